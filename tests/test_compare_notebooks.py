"""scripts/compare_notebooks.py: finds the first differing output the way nbval would."""

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import compare_notebooks as cmp  # noqa: E402


def stream(text):
    return new_output("stream", name="stdout", text=text)


def notebook(outputs, tags=((), (), ())):
    cells = [new_markdown_cell("# page")]
    for i, (outs, cell_tags) in enumerate(zip(outputs, tags, strict=True)):
        cell = new_code_cell(f"print({i})", execution_count=i + 1, outputs=list(outs))
        if cell_tags:
            cell.metadata["tags"] = list(cell_tags)
        cells.append(cell)
    return new_notebook(cells=cells)


def write(tmp_path, name, nb):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_equal_outputs_agree_and_sanitized_parts_are_ignored(tmp_path, capsys):
    a = write(tmp_path, "a.ipynb", notebook([[stream("loss 0.123\n")], [stream("took 1.5 s\n")],
                                            []]))
    b = write(tmp_path, "b.ipynb", notebook([[stream("loss 0.1"), stream("23\n")],
                                            [stream("took 7.25 s\n")], []]))
    assert cmp.main([str(a), str(b)]) == 0  # stream chunks joined, durations masked
    assert "0 code cell(s) differ" in capsys.readouterr().out


def test_first_difference_is_reported_with_a_diff(tmp_path, capsys):
    a = write(tmp_path, "a.ipynb", notebook([[stream("acc 95.8%\n")], [stream("x\n")],
                                            [stream("y\n")]]))
    b = write(tmp_path, "b.ipynb", notebook([[stream("acc 95.6%\n")], [stream("x\n")],
                                            [stream("z\n")]]))
    assert cmp.main([str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "2 code cell(s) differ" in out and "code cell 0" in out and "code cell 2" not in out
    assert "-acc 95.8%" in out and "+acc 95.6%" in out
    assert cmp.main(["--all", str(a), str(b)]) == 1
    assert "code cell 2" in capsys.readouterr().out


def test_cells_nbval_does_not_compare_are_skipped(tmp_path):
    tags = (("nbval-ignore-output",), ("nbval-skip",), ())
    a = write(tmp_path, "a.ipynb", notebook([[stream("1\n")], [stream("2\n")], []], tags))
    b = write(tmp_path, "b.ipynb", notebook([[stream("3\n")], [stream("4\n")], []], tags))
    assert cmp.main([str(a), str(b)]) == 0


def test_different_code_cannot_be_compared(tmp_path, capsys):
    a = write(tmp_path, "a.ipynb", notebook([[], [], []]))
    nb = notebook([[], [], []])
    nb.cells[1].source = "print('other')"
    b = write(tmp_path, "b.ipynb", nb)
    assert cmp.main([str(a), str(b)]) == 2
    assert "different source" in capsys.readouterr().out


def test_tag_cells_marks_the_differing_code_cells_of_a_page(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# t\n\n```{code-cell} ipython3\n:tags: [remove-cell]\n\nsetup\n```\n\n"
                    "```{code-cell} ipython3\nfirst\n```\n\n"
                    "```{code-cell} ipython3\n:tags: [hide-input]\n\nsecond\n```\n",
                    encoding="utf-8")
    assert cmp.tag_cells(page, [1, 2]) == 2
    text = page.read_text(encoding="utf-8")
    assert ":tags: [hardware-dependent]\n\nfirst" in text
    assert ":tags: [hide-input, hardware-dependent]\n\nsecond" in text
    assert cmp.tag_cells(page, [1]) == 0  # already tagged
    import jupytext

    nb = jupytext.read(page)  # still a valid page, with the tags where jupytext reads them
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[1].metadata["tags"] == ["hardware-dependent"]
    assert code[2].metadata["tags"] == ["hide-input", "hardware-dependent"]


def test_edited_cells_are_paired_by_position_on_request(tmp_path):
    a = write(tmp_path, "a.ipynb", notebook([[stream("1\n")], [], []]))
    nb = notebook([[stream("1\n")], [], []])
    nb.cells[1].source = "print(0)\nassert True"
    b = write(tmp_path, "b.ipynb", nb)
    assert cmp.main([str(a), str(b)]) == 2
    assert cmp.main(["--edited", str(a), str(b)]) == 0
