"""The Colab setup cell really installs the package: proven in a fresh virtual environment.

The install takes the path Colab takes, through git: this repository is cloned (its committed
state, as CI has it), the clone's branch is named as ``_config.yml``'s ``repository.branch``, and
the setup cell, pointed at the clone by ``LESSONS_PKG_REPOSITORY=file://...``, runs
``pip install "lessons_pkg @ git+file://...@<branch>"`` in a new venv where the package is not
installed. torch is in the venv beforehand, as in Colab, and must come out of the install
untouched. The venv gets the third-party requirements from the lock file (pip's cache makes that
quick).
"""

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import notebooks as nbtool  # noqa: E402  (the generator of every page's setup cell)

NOTEBOOK = ROOT / "notebooks" / "background" / "large_models.ipynb"
RUNNER = """
import importlib.metadata, importlib.util, sys
import nbformat
from nbclient import NotebookClient
assert importlib.util.find_spec("lessons_pkg") is None, "lessons_pkg is already installed"
torch_files = importlib.metadata.distribution("torch").files
torch_record = next(f for f in torch_files if f.name == "RECORD").locate()
before = torch_record.stat().st_mtime_ns
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=600, kernel_name="python3").execute()
setup = next(c for c in nb.cells if c.cell_type == "code")
print("setup cell said:", "".join(o.get("text", "") for o in setup.outputs).strip())
print("torch untouched:", torch_record.stat().st_mtime_ns == before)
import lessons_pkg
print("executed with lessons_pkg", lessons_pkg.__version__, "from", lessons_pkg.__file__)
"""


def test_the_setup_cell_installs_from_the_notebooks_own_branch():
    source = NOTEBOOK.read_text(encoding="utf-8")
    ref = nbtool.repository_ref()
    assert f"@{ref}" in nbtool.setup_cell_source()
    assert f"git+{{REPOSITORY}}@{ref}" in source, "regenerate the notebooks (scripts/notebooks.py)"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="the install goes through git")
def test_setup_cell_installs_the_package_through_git_in_a_fresh_venv(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    # The clone's HEAD is this checkout's HEAD; give it the branch name the setup cell asks for.
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", "-B",
                    nbtool.repository_ref(), "HEAD"], check=True)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    lock = ROOT / "requirements-lock.txt"
    # A current pip, as Colab has (pip 23.2 refuses "name @ git+file:///...@ref" as a path).
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "-c", lock, "torch"], check=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "-c", lock, "numpy", "matplotlib",
                    "tqdm", "scikit-learn", "ipykernel", "nbclient", "nbformat"], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(LESSONS_PKG_REPOSITORY=clone.as_uri(), PATH=f"{env_dir / 'bin'}:{env['PATH']}",
               PIP_CONSTRAINT=str(lock))
    result = subprocess.run([python, "-c", RUNNER, str(NOTEBOOK)], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert f"Installing lessons_pkg from {clone.as_uri()}@{nbtool.repository_ref()} ... done in" \
        in out, out
    assert "device: cpu" in out, out
    assert "torch untouched: True" in out, out
    assert "executed with lessons_pkg" in out
    assert str(env_dir) in out  # installed into the fresh venv, not found elsewhere
