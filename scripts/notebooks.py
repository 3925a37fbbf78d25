"""Regenerate the notebooks in ``notebooks/`` from the pages in ``book/`` (the source).

    python scripts/notebooks.py                 # every page: regenerate and execute
    python scripts/notebooks.py book/preface.md # just these pages
    python scripts/notebooks.py --no-execute    # regenerate, keep the outputs of unchanged cells
    python scripts/notebooks.py --seed-cache    # seed Jupyter Book's cache from the notebooks

One way only: ``book/X.md`` → ``notebooks/X.ipynb``, through jupytext with the pairing formats of
``pyproject.toml``. On the way, every page's first code cell is set to the Colab setup cell
(:func:`setup_cell_source`), and markdown cells are translated for Colab (``colab_markdown``).
Executed notebooks carry no timestamps, so re-running an unchanged page makes no diff.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import jupytext
import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from colab_markdown import (  # noqa: E402
    PageContext,
    number_page,
    references_markdown,
    translate_markdown,
)

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = ROOT / "notebooks"
CACHE = ROOT / "_build" / ".jupyter_cache"
SETUP_TAGS = ["remove-cell"]
SETUP_MARKER = "# Colab setup"
VOLATILE_CELL_METADATA = ("execution", "collapsed", "scrolled", "ExecuteTime")


def _config_value(section: str, key: str) -> str:
    text = (ROOT / "_config.yml").read_text(encoding="utf-8")
    block = re.search(rf"^{section}:\s*\n((?:[ \t]+.*\n?)+)", text, re.M).group(1)
    return re.search(rf"^\s+{key}:\s*(\S+)", block, re.M).group(1)


def repository_url() -> str:
    """The repository the launch buttons open and the setup cell installs from."""
    return _config_value("repository", "url")


def repository_ref() -> str:
    """The one git ref of both: the notebook a launch button opens is the one on this branch,
    and its setup cell installs ``lessons_pkg`` from the same branch."""
    return _config_value("repository", "branch")


def setup_cell_source() -> str:
    """The first code cell of every page: chooses the reproducible CPU mode, and installs
    lessons_pkg in Colab.

    The mode's variables (``lessons_pkg.device.REPRODUCIBLE_CPU_ENV``) are read when torch is
    imported, so the first cell sets them, before any import of torch. Variables the reader set
    are kept, and ``LESSONS_PKG_NATIVE=1`` keeps torch's own choices.

    In Colab (or wherever ``LESSONS_PKG_REPOSITORY`` is set) the cell installs the package with
    pip from the repository at the ref of the notebook itself (:func:`repository_ref`), unless it
    is installed already. pip keeps the torch that is there: the package asks only for a lower
    bound. ``LESSONS_PKG_REPOSITORY`` replaces the repository's address, which is how
    ``tests/test_colab_setup.py`` runs the real install from a local clone (``file://...``).
    """
    from lessons_pkg.device import REPRODUCIBLE_CPU_ENV

    mode = "".join(f'\n        "{k}": "{v}",' for k, v in REPRODUCIBLE_CPU_ENV.items())
    return f"""{SETUP_MARKER}: the reproducible CPU mode, and in Colab the course package.
import importlib.util, os, platform, subprocess, sys, time
# The reproducible CPU mode gives the book's digits on any x86-64 CPU. It is read when torch is
# imported, so it comes first; LESSONS_PKG_NATIVE=1 keeps torch's defaults (faster on many cores).
x86_64 = platform.machine().lower() in ("x86_64", "amd64")
if x86_64 and os.environ.get("LESSONS_PKG_NATIVE") != "1":
    for key, value in {{{mode}
    }}.items():
        os.environ.setdefault(key, value)
# In Colab: install the course package from the branch this notebook comes from, keeping the
# torch Colab already has (the package asks only for torch>=2.3).
REPOSITORY = os.environ.get("LESSONS_PKG_REPOSITORY", "{repository_url()}")
if "google.colab" in sys.modules or "LESSONS_PKG_REPOSITORY" in os.environ:
    if importlib.util.find_spec("lessons_pkg") is None:
        start = time.perf_counter()
        print(f"Installing lessons_pkg from {{REPOSITORY}}@{repository_ref()} ...", end=" ",
              flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                        f"lessons_pkg @ git+{{REPOSITORY}}@{repository_ref()}"], check=True)
        print(f"done in {{time.perf_counter() - start:.0f}} s")
    import lessons_pkg, torch
    from lessons_pkg.device import describe_device, get_device
    print(f"lessons_pkg {{lessons_pkg.__version__}}, torch {{torch.__version__}}, "
          f"device: {{describe_device(get_device('auto'))}}")"""


def pages(selected: list[str] | None = None) -> list[Path]:
    """The pages that are notebooks (they have a jupytext header), or the selected ones."""
    if selected:
        return [Path(p).resolve() for p in selected]
    return sorted(p for p in BOOK.rglob("*.md") if "kernelspec:" in p.read_text(encoding="utf-8"))


def notebook_path(page: Path) -> Path:
    return NOTEBOOKS / page.relative_to(BOOK).with_suffix(".ipynb")


def ensure_setup_cell(page: Path) -> bool:
    """Make the page's first code cell the current setup cell; return True if the page changed."""
    nb = jupytext.read(page)
    code = [c for c in nb.cells if c.cell_type == "code"]
    wanted = setup_cell_source()
    if code and code[0].source.startswith(SETUP_MARKER):
        if code[0].source == wanted and code[0].metadata.get("tags") == SETUP_TAGS:
            return False
        code[0].source = wanted
        code[0].metadata["tags"] = SETUP_TAGS
    else:
        cell = nbformat.v4.new_code_cell(wanted, metadata={"tags": SETUP_TAGS})
        first_code = nb.cells.index(code[0]) if code else len(nb.cells)
        nb.cells.insert(first_code, cell)
    jupytext.write(nb, page, fmt="md:myst")
    return True


def colab_url(notebook: Path) -> str:
    """Where Colab opens ``notebook`` (a path under ``notebooks/``): the repository's ref."""
    github = repository_url().removeprefix("https://github.com/")
    return (f"https://colab.research.google.com/github/{github}/blob/{repository_ref()}/"
            f"{notebook.relative_to(ROOT).as_posix()}")


def colab_badge(notebook: Path) -> str:
    return ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"({colab_url(notebook)})")


def colab_notebook(page: Path) -> nbformat.NotebookNode:
    """The notebook for ``page``: same code cells, markdown translated for Colab."""
    nb = jupytext.read(page)
    ctx = PageContext(page=page)
    number_page([c.source for c in nb.cells if c.cell_type == "markdown"], ctx)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = translate_markdown(cell.source, ctx)
    # What the website shows around the page's cells: a way to open it in Colab, and the
    # references it cites (the site's bibliography page has them; a notebook stands alone).
    if page.is_relative_to(BOOK):  # a page of this book (not a copy elsewhere, as in tests)
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(colab_badge(notebook_path(page))))
    if ctx.cited:
        nb.cells.append(nbformat.v4.new_markdown_cell(references_markdown(ctx, ctx.cited)))
    nb.metadata.pop("jupytext", None)
    # Kept as the page states it: Jupyter Book's cache key includes the kernelspec.
    nb.metadata.setdefault("kernelspec", {"display_name": "Python 3", "language": "python",
                                          "name": "python3"})
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["colab"] = {"provenance": []}
    return nb


def _code_key(cell) -> tuple:
    return cell.source, tuple(cell.metadata.get("tags", []))


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop what changes from run to run (timestamps, widget state), so re-runs make no diff."""
    for cell in nb.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        cell.pop("id", None)
    nb.metadata.pop("widgets", None)
    nb.nbformat, nb.nbformat_minor = 4, 4
    return nb


def carry_outputs(new: nbformat.NotebookNode, old_path: Path) -> None:
    """Copy outputs of code cells whose source and tags are unchanged (like jupytext --update),
    and the kernel's language_info."""
    if not old_path.exists():
        return
    old = nbformat.read(old_path, as_version=4)
    if "language_info" in old.metadata:  # written by the kernel when the notebook last ran
        new.metadata["language_info"] = old.metadata["language_info"]
    stored = {}
    for cell in old.cells:
        if cell.cell_type == "code":
            stored.setdefault(_code_key(cell), cell)
    for cell in new.cells:
        if cell.cell_type == "code" and _code_key(cell) in stored:
            cell.outputs = stored[_code_key(cell)].outputs
            cell.execution_count = stored[_code_key(cell)].execution_count


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout: int) -> None:
    from nbclient import NotebookClient

    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("PYTHONHASHSEED", "0")
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute()


def write(nb: nbformat.NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(nb)
    tmp = path.with_suffix(".ipynb.tmp")
    tmp.write_text(nbformat.writes(clean(nb), version=4) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def seed_cache(paths: list[Path]) -> None:
    """Store the validated notebooks in Jupyter Book's execution cache, so the build reuses them."""
    from jupyter_cache import get_cache

    cache = get_cache(str(CACHE))
    for page in paths:
        nb_path = notebook_path(page)
        cache.cache_notebook_file(str(nb_path), check_validity=False, overwrite=True)
        print(f"cached {nb_path.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", help="pages under book/ (default: all)")
    parser.add_argument("--no-execute", action="store_true", help="regenerate only")
    parser.add_argument("--seed-cache", action="store_true", help="only seed the build cache")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args()
    selected = pages(args.pages)
    if args.seed_cache:
        seed_cache(selected)
        return
    for page in selected:
        start = time.perf_counter()
        if ensure_setup_cell(page):
            print(f"updated the setup cell of {page.relative_to(ROOT)}")
        nb_path = notebook_path(page)
        nb = colab_notebook(page)
        if args.no_execute:
            carry_outputs(nb, nb_path)
        else:
            nb_path.parent.mkdir(parents=True, exist_ok=True)
            execute(nb, nb_path.parent, args.timeout)
        write(nb, nb_path)
        print(f"wrote {nb_path.relative_to(ROOT)} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
