"""Release a version of the course: the book and ``lessons_pkg`` share one version number.

    python scripts/release.py 0.2.0          # what `make release VERSION=0.2.0` runs
    python scripts/release.py --check        # the invariant CI checks (tests/test_release.py)

A release sets ``__version__`` in ``lessons_pkg/__init__.py`` (the version's one place), turns
the "Unreleased" section of ``CHANGELOG.md`` into the version's section, records there the
SHA-256 of the package's sources, updates ``CITATION.cff``, re-executes the preface (it prints
the version), commits and tags ``v<version>``.

The invariant: the package's sources either hash to what the latest release recorded, and then
``__version__`` is that release; or they changed, and then ``__version__`` is a development
version of a later release (``0.3.0.dev0``) and "Unreleased" says what changed. So an installed
``lessons_pkg 0.2.0`` is always exactly the released code.

Notebooks and package come from one git ref (``_config.yml``'s ``repository.branch``), so a tag
is a citable snapshot, not what Colab installs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lessons_pkg"
INIT = PACKAGE / "__init__.py"
CHANGELOG = ROOT / "CHANGELOG.md"
CITATION = ROOT / "CITATION.cff"
VERSION_LINE = re.compile(r'^__version__ = "([^"]+)"$', re.M)
RELEASE_HEADING = re.compile(
    r"^## \[(?P<version>[^\]]+)\] - (?P<date>\d{4}-\d{2}-\d{2})\n"
    r"<!-- lessons_pkg sources sha256: (?P<sha>[0-9a-f]{64}) -->$", re.M)
UNRELEASED = re.compile(r"^## \[Unreleased\]\n(?P<body>.*?)(?=^## \[|\Z)", re.M | re.S)
SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:\.dev(\d+))?$")


def package_sha256(root: Path = ROOT) -> str:
    """SHA-256 over the package's files (sources and bundled data; not the bytecode caches):
    each file's path and bytes, in path order."""
    digest = hashlib.sha256()
    files = [p for p in (root / "lessons_pkg").rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    for path in sorted(files):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return digest.hexdigest()


def current_version(root: Path = ROOT) -> str:
    return VERSION_LINE.search((root / "lessons_pkg" / "__init__.py").read_text("utf-8")).group(1)


def parse_version(text: str) -> tuple[int, int, int, float]:
    """(major, minor, patch, dev): a development version sorts before its release."""
    m = SEMVER.match(text)
    if m is None:
        raise ValueError(f"version must look like 1.2.3 or 1.2.3.dev0, got {text!r}")
    major, minor, patch, dev = m.groups()
    return int(major), int(minor), int(patch), float("inf") if dev is None else int(dev)


def latest_release(root: Path = ROOT) -> dict[str, str] | None:
    """The newest release section of CHANGELOG.md: version, date and the recorded hash."""
    m = RELEASE_HEADING.search((root / "CHANGELOG.md").read_text("utf-8"))
    return m.groupdict() if m else None


def unreleased_changes(root: Path = ROOT) -> list[str]:
    m = UNRELEASED.search((root / "CHANGELOG.md").read_text("utf-8"))
    return [line for line in (m["body"] if m else "").splitlines() if line.startswith("- ")]


def problems(root: Path = ROOT) -> list[str]:
    """What breaks the release invariant ([] when it holds)."""
    version, release = current_version(root), latest_release(root)
    if release is None:
        return ["CHANGELOG.md records no release (a '## [x.y.z] - date' heading with its hash)"]
    found = []
    citation = (root / "CITATION.cff").read_text("utf-8")
    if f'\nversion: "{release["version"]}"' not in citation:
        found.append(f"CITATION.cff does not cite the latest release {release['version']}")
    if package_sha256(root) == release["sha"]:
        if version != release["version"]:
            found.append(f"the sources are release {release['version']}'s, but __version__ is "
                         f"{version}")
        return found
    if parse_version(version)[3] == float("inf") or \
            parse_version(version) <= parse_version(release["version"]):
        found.append(f"lessons_pkg changed since release {release['version']} (its sources' "
                     "SHA-256 differs from the one CHANGELOG.md records) but __version__ is "
                     f"{version}: make it a development version of the next release, e.g. "
                     f"{_next_dev(release['version'])}")
    if not unreleased_changes(root):
        found.append("lessons_pkg changed since the latest release but CHANGELOG.md's "
                     "'## [Unreleased]' section lists no change ('- ...' lines)")
    return found


def _next_dev(version: str) -> str:
    major, minor, _, _ = parse_version(version)
    return f"{major}.{minor + 1}.0.dev0"


def release(version: str, root: Path = ROOT, execute: bool = True, today: str | None = None
            ) -> None:
    parse_version(version)
    if ".dev" in version:
        raise ValueError(f"version must be a release, not a development version: {version!r}")
    previous = latest_release(root)
    if previous and parse_version(version) <= parse_version(previous["version"]):
        raise ValueError(f"version must be newer than the latest release {previous['version']}, "
                         f"got {version!r}")
    if subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True,
                      text=True, check=True).stdout.strip():
        raise SystemExit("release: commit or stash your changes first")
    changes = unreleased_changes(root)
    if not changes:
        raise SystemExit("release: CHANGELOG.md's '## [Unreleased]' section lists no change")
    today = today or dt.date.today().isoformat()
    init = root / "lessons_pkg" / "__init__.py"
    init.write_text(VERSION_LINE.sub(f'__version__ = "{version}"', init.read_text("utf-8")),
                    encoding="utf-8")
    changelog = (root / "CHANGELOG.md").read_text("utf-8")
    m = UNRELEASED.search(changelog)
    section = (f"## [Unreleased]\n\n## [{version}] - {today}\n"
               f"<!-- lessons_pkg sources sha256: {package_sha256(root)} -->\n{m['body']}")
    (root / "CHANGELOG.md").write_text(changelog[:m.start()] + section + changelog[m.end():],
                                       encoding="utf-8")
    citation = (root / "CITATION.cff").read_text("utf-8")
    citation = re.sub(r'^version: ".*"$', f'version: "{version}"', citation, flags=re.M)
    citation = re.sub(r'^date-released: ".*"$', f'date-released: "{today}"', citation, flags=re.M)
    (root / "CITATION.cff").write_text(citation, encoding="utf-8")
    if execute:  # the preface prints the version
        subprocess.run([sys.executable, "scripts/notebooks.py", "book/preface.md"], cwd=root,
                       check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "--quiet", "-m", f"Release {version}"], cwd=root, check=True)
    subprocess.run(["git", "tag", "-a", f"v{version}", "-m",
                    f"lessons_pkg and the book, {version}"], cwd=root, check=True)
    print(f"released {version}: commit and tag v{version} made; push both "
          f"(git push && git push origin v{version})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", nargs="?", help="the version to release, e.g. 0.2.0")
    parser.add_argument("--check", action="store_true", help="only check the invariant")
    parser.add_argument("--no-execute", action="store_true", help="do not re-run the preface")
    args = parser.parse_args()
    if args.check or not args.version:
        found = problems()
        print("\n".join(found) or f"ok: lessons_pkg {current_version()}")
        raise SystemExit(1 if found else 0)
    release(args.version, execute=not args.no_execute)


if __name__ == "__main__":
    main()
