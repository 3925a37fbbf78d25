"""The Colab setup cell really installs the package: proven in a fresh virtual environment.

A notebook is executed in a new venv where ``lessons_pkg`` is not installed, with the setup cell
pointed (``LESSONS_PKG_SOURCE``) at a wheel built from this checkout instead of the repository.
The venv gets the third-party requirements from the lock file (pip's cache makes that quick).
"""

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "background" / "large_models.ipynb"
RUNNER = """
import importlib.util, sys
import nbformat
from nbclient import NotebookClient
assert importlib.util.find_spec("lessons_pkg") is None, "lessons_pkg is already installed"
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=600, kernel_name="python3").execute()
import lessons_pkg
print("executed with lessons_pkg", lessons_pkg.__version__, "from", lessons_pkg.__file__)
"""


@pytest.mark.slow
def test_setup_cell_installs_the_package_in_a_fresh_venv(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                    str(tmp_path / "dist"), str(ROOT)], check=True)
    wheel = next((tmp_path / "dist").glob("lessons_pkg-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    lock = ROOT / "requirements-lock.txt"
    subprocess.run([python, "-m", "pip", "install", "--quiet", "-c", lock, "torch"], check=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "-c", lock, "numpy", "matplotlib",
                    "tqdm", "scikit-learn", "ipykernel", "nbclient", "nbformat"], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(LESSONS_PKG_SOURCE=str(wheel), PATH=f"{env_dir / 'bin'}:{env['PATH']}",
               PIP_CONSTRAINT=str(lock))
    result = subprocess.run([python, "-c", RUNNER, str(NOTEBOOK)], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "executed with lessons_pkg" in result.stdout
    assert str(env_dir) in result.stdout  # installed into the fresh venv, not found elsewhere
