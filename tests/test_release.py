"""One version, one ref: the release invariant, the release script, and the notebooks' ref."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import release  # noqa: E402

import notebooks as nbtool  # noqa: E402


def test_the_package_changed_only_with_a_new_version():
    assert release.problems() == []


def test_every_notebook_installs_from_the_ref_its_launch_button_opens():
    ref = nbtool.repository_ref()
    for page in nbtool.pages():
        source = nbtool.notebook_path(page).read_text(encoding="utf-8")
        assert f"git+{{REPOSITORY}}@{ref}" in source, page
        assert f"/blob/{ref}/notebooks/" in source, page  # the Colab badge


@pytest.mark.parametrize("text, parsed", [
    ("0.2.0", (0, 2, 0, float("inf"))), ("1.10.3.dev2", (1, 10, 3, 2))])
def test_versions_parse_and_a_dev_version_sorts_before_its_release(text, parsed):
    assert release.parse_version(text) == parsed
    assert release.parse_version("0.3.0.dev0") < release.parse_version("0.3.0")


def test_a_malformed_version_is_refused():
    with pytest.raises(ValueError, match="version must look like 1.2.3"):
        release.parse_version("v0.2")


def _repo(tmp_path: Path) -> Path:
    """A small repository shaped like this one: a package, a changelog, a citation file."""
    repo = tmp_path / "repo"
    (repo / "lessons_pkg").mkdir(parents=True)
    (repo / "lessons_pkg" / "__init__.py").write_text('__version__ = "0.1.0"\n')
    (repo / "lessons_pkg" / "core.py").write_text("ANSWER = 42\n")
    (repo / "CHANGELOG.md").write_text("# Changelog\n\n## [Unreleased]\n\n- the first version\n")
    (repo / "CITATION.cff").write_text('cff-version: 1.2.0\nversion: "0.0.0"\n'
                                       'date-released: "2026-01-01"\n')
    git = ["git", "-C", str(repo)]
    subprocess.run(["git", "init", "--quiet", str(repo)], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet",
                          "-m", "start"], check=True)
    return repo


def test_release_sets_the_version_records_the_hash_and_tags(tmp_path, monkeypatch):
    repo = _repo(tmp_path)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "t")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "t@t")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "t")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "t@t")
    assert release.problems(repo) == [
        "CHANGELOG.md records no release (a '## [x.y.z] - date' heading with its hash)"]
    release.release("0.2.0", root=repo, execute=False, today="2026-12-02")
    assert release.current_version(repo) == "0.2.0"
    assert release.latest_release(repo) == {
        "version": "0.2.0", "date": "2026-12-02", "sha": release.package_sha256(repo)}
    assert 'version: "0.2.0"' in (repo / "CITATION.cff").read_text()
    assert release.unreleased_changes(repo) == []
    assert release.problems(repo) == []
    tags = subprocess.run(["git", "-C", str(repo), "tag"], capture_output=True, text=True).stdout
    assert tags.split() == ["v0.2.0"]

    # The package changes: the invariant fails until the version and the changelog say so.
    (repo / "lessons_pkg" / "core.py").write_text("ANSWER = 43\n")
    found = release.problems(repo)
    assert any("changed since release 0.2.0" in p and "0.3.0.dev0" in p for p in found)
    assert any("lists no change" in p for p in found)
    init = repo / "lessons_pkg" / "__init__.py"
    init.write_text('__version__ = "0.3.0.dev0"\n')
    changelog = repo / "CHANGELOG.md"
    changelog.write_text(changelog.read_text().replace(
        "## [Unreleased]\n", "## [Unreleased]\n\n- a better answer\n"))
    assert release.problems(repo) == []
    with pytest.raises(ValueError, match="newer than the latest release 0.2.0"):
        release.release("0.2.0", root=repo, execute=False)
