"""Pages in book/ and notebooks in notebooks/ stay in step.

``book/X.md`` is the source; ``notebooks/X.ipynb`` is generated from it by
``python scripts/notebooks.py`` (``make notebooks``). These tests fail when a page was edited and
its notebook not regenerated, when a notebook has no page, or when a notebook was never executed.
"""

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import notebooks as nbtool  # noqa: E402

PAGES = nbtool.pages()
REGENERATE = "regenerate it with `make notebooks PAGES={page}`"


def _cells(nb):
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", [])))
            for c in nb.cells]


def test_there_are_pages():
    assert len(PAGES) >= 2


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_matches_its_page(page):
    nb_path = nbtool.notebook_path(page)
    rel = page.relative_to(ROOT)
    hint = REGENERATE.format(page=rel)
    assert nb_path.exists(), f"{nb_path.relative_to(ROOT)} is missing: {hint}"
    expected = _cells(nbtool.colab_notebook(page))
    stored = _cells(nbformat.read(nb_path, as_version=4))
    assert stored == expected, f"{nb_path.relative_to(ROOT)} is stale: {hint}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_starts_with_the_current_setup_cell(page):
    import jupytext

    code = [c for c in jupytext.read(page).cells if c.cell_type == "code"]
    assert code and code[0].source == nbtool.setup_cell_source(), (
        f"{page.relative_to(ROOT)}: the setup cell is missing or outdated; run `make notebooks`")
    assert code[0].metadata.get("tags") == nbtool.SETUP_TAGS


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_was_executed_and_has_no_timestamps(page):
    nb = nbformat.read(nbtool.notebook_path(page), as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        tags = cell.metadata.get("tags", [])
        if "nbval-skip" not in tags:
            assert cell.execution_count is not None, f"cell {i} was never executed"
        assert "execution" not in cell.metadata, f"cell {i} stores execution timestamps"


def test_every_notebook_has_a_page():
    pages = {nbtool.notebook_path(p) for p in PAGES}
    orphans = [p for p in nbtool.NOTEBOOKS.rglob("*.ipynb") if p not in pages]
    assert not orphans, f"notebooks without a page in book/: {orphans}"


def test_every_page_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    listed = {line.split(":", 1)[1].strip() for line in toc.splitlines()
              if line.strip().startswith(("file:", "- file:", "root:"))}
    missing = [p for p in PAGES if str(p.relative_to(ROOT).with_suffix("")) not in listed]
    assert not missing, f"pages not listed in _toc.yml: {missing}"


def test_a_stale_notebook_is_detected(tmp_path):
    """The check above can fail: editing a page without regenerating makes the cells differ."""
    page = nbtool.BOOK / "preface.md"
    edited = tmp_path / "book" / page.relative_to(nbtool.BOOK)
    edited.parent.mkdir(parents=True)
    edited.write_text(page.read_text(encoding="utf-8") + "\n\nA sentence added later.\n",
                      encoding="utf-8")
    stored = _cells(nbformat.read(nbtool.notebook_path(page), as_version=4))
    assert _cells(nbtool.colab_notebook(edited)) != stored


COMPUTING_PAGES = [p for p in PAGES if 'get_device("auto"' in p.read_text(encoding="utf-8")]
MODE_LINE = ", reproducible CPU mode on: printed numbers should equal the book's"


def test_pages_that_compute_report_the_mode():
    assert len(COMPUTING_PAGES) >= 15


@pytest.mark.parametrize("page", COMPUTING_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_stored_outputs_were_made_in_the_reproducible_mode(page):
    """Each computing page prints describe_numerics() in its first cell after the setup cell; the
    stored line must say the mode was on (nbval then requires the same line when it re-runs)."""
    code = [c for c in nbformat.read(nbtool.notebook_path(page), as_version=4).cells
            if c.cell_type == "code"]
    first = code[1]
    assert "print(describe_numerics(device))" in first.source
    printed = "".join(o.get("text", "") for o in first.outputs if o.output_type == "stream")
    assert MODE_LINE in printed, (
        f"{page.relative_to(ROOT)} was executed outside the reproducible CPU mode: {printed!r}")
    # Off x86 the line differs, so the cell is tagged (or, on the preface, never compared).
    assert {"hardware-dependent", "nbval-ignore-output"} & set(first.metadata.get("tags", []))
