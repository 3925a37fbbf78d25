"""The MyST → plain Markdown translation used for the Colab notebooks."""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from colab_markdown import (  # noqa: E402
    PageContext,
    number_page,
    references_markdown,
    translate_markdown,
)
from colab_markdown import _page_title as page_title  # noqa: E402

import notebooks as nbtool  # noqa: E402

PAGE = ROOT / "book" / "background" / "large_models.md"


def translate(text):
    ctx = PageContext(page=PAGE)
    number_page([text], ctx)
    return translate_markdown(text, ctx)


def test_citations_become_author_year():
    assert translate("see {cite}`vaswani2017`") == "see (Vaswani et al., 2017)"
    assert translate("{cite:t}`kingma2014`") == "Kingma and Welling (2014)"
    assert translate("{cite}`brown2020,devlin2019`") == "(Brown et al., 2020; Devlin et al., 2019)"


def test_equations_are_tagged_and_referenced_by_number():
    text = "$$\na = b\n$$ (eq-a)\n\n$$ c = d $$ (eq-c)\n\nBy {eq}`eq-c` and {eq}`eq-a`."
    out = translate(text)
    assert "\\tag{1}" in out and "\\tag{2}" in out
    assert out.endswith("By (2) and (1).")
    assert "(eq-a)" not in out


def test_exercise_and_dropdown_solution():
    text = ("```{exercise}\n:label: ex-one\nWhat is $1+1$?\n```\n\n"
            "```{solution} ex-one\n:class: dropdown\nIt is $2$.\n```")
    out = translate(text)
    assert out.startswith("**Exercise 1.** What is $1+1$?")
    assert "<details>\n<summary>Solution</summary>\n\nIt is $2$.\n\n</details>" in out


def test_mermaid_admonition_targets_and_comments():
    out = translate("(sec-x)=\n% a comment\n```{mermaid}\ngraph LR\n  A --> B\n```\n\n"
                    "```{note}\nRead this.\n```")
    assert out == "```mermaid\ngraph LR\n  A --> B\n```\n\n> **Note**\n>\n> Read this."


def test_literalinclude_pyobject_gives_the_code_itself():
    out = translate(
        "```{literalinclude} ../../lessons_pkg/scale.py\n:pyobject: training_flops\n```")
    assert out.startswith("```python\ndef training_flops(")
    assert "return 6.0 *" in out and out.endswith("```")


def test_doc_links_point_to_notebooks():
    assert translate("{doc}`the preface <../preface>`") == "[the preface](../preface.ipynb)"
    assert translate("{doc}`../preface`") == "[Preface](../preface.ipynb)"


@pytest.mark.parametrize("text, match", [
    ("{cite}`nobody1999`", "citation key 'nobody1999'"),
    ("{eq}`missing`", "equation label 'missing'"),
    ("{glue}`x`", "role {glue}"),
    ("```{tab-set}\nx\n```", "directive {tab-set}"),
    ("```{note}\nnever closed", "never closed"),
    ("```{literalinclude} ../../lessons_pkg/scale.py\n:lines: 1-3\n```",
     r"literalinclude options \['lines'\]"),
])
def test_unknown_markup_is_an_error(text, match):
    with pytest.raises(ValueError, match=match):
        translate(text)


def test_literalinclude_of_a_method_takes_that_method():
    out = translate("```{literalinclude} ../../lessons_pkg/lstm.py\n:pyobject: LSTM.forward\n```")
    assert out.startswith("```python\ndef forward(")
    assert "lengths" in out  # LSTM.forward, not LSTMCell.forward


def test_a_solution_that_opens_with_code_keeps_it_code():
    text = ("```{exercise}\n:label: ex-c\n\n    x = 1\n```\n\n```{solution} ex-c\n"
            ":class: dropdown\n\n    y = 2\n    print(y)\n\nThat prints 2.\n```")
    out = translate(text)
    assert out.startswith("**Exercise 1.**\n\n    x = 1")
    assert "<summary>Solution</summary>\n\n    y = 2\n    print(y)\n\nThat prints 2." in out


def test_parenthesised_equation_references_are_refused():
    with pytest.raises(ValueError, match=r"without parentheses.*\(\(N\)\)"):
        translate("$$\na\n$$ (eq-a)\n\nas in ({eq}`eq-a`)")


def test_citations_are_recorded_for_the_references_list():
    ctx = PageContext(page=PAGE)
    translate_markdown("{cite}`vaswani2017` and {cite:t}`hochreiter1997`, {cite}`vaswani2017`", ctx)
    assert ctx.cited == ["vaswani2017", "hochreiter1997"]
    refs = references_markdown(ctx, ctx.cited)
    assert refs.startswith("## References\n\n- Vaswani, Ashish, ")
    assert "(2017). Attention Is All You Need." in refs
    # LaTeX accents become characters, braces go
    assert "- Hochreiter, Sepp and Schmidhuber, Jürgen (1997). Long Short-Term Memory. " \
        "*Neural Computation*." in refs
    truncated = references_markdown(ctx, ["brown2020"])  # "and others" in the BibTeX entry
    assert "Dhariwal, Prafulla, et al. (2020)." in truncated, truncated


def test_bibliography_directive_lists_references():
    out = translate("```{bibliography}\n```")
    assert out.count("\n- ") + 1 == len(PageContext(page=PAGE).bib)


def _notebook_markdown(page: Path) -> str:
    return "\n".join(c.source for c in nbtool.colab_notebook(page).cells
                     if c.cell_type == "markdown")


CITING = sorted(p for p in nbtool.pages() if "{cite" in p.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", CITING, ids=lambda p: p.stem)
def test_every_citing_notebook_ends_with_its_references(page):
    nb = nbtool.colab_notebook(page)
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and last.source.startswith("## References")
    keys = set(re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", page.read_text(encoding="utf-8")))
    keys = {k.strip() for group in keys for k in group.split(",")}
    assert last.source.count("\n- ") == len(keys)


@pytest.mark.parametrize("page", nbtool.pages(), ids=lambda p: p.stem)
def test_every_notebook_opens_with_its_colab_badge(page):
    first = nbtool.colab_notebook(page).cells[0]
    assert first.cell_type == "markdown"
    notebook = nbtool.notebook_path(page).relative_to(ROOT).as_posix()
    assert first.source.endswith(f"/blob/{nbtool.repository_ref()}/{notebook})")
    assert "colab-badge.svg" in first.source


@pytest.mark.parametrize("page", nbtool.pages(), ids=lambda p: p.stem)
def test_no_code_names_a_raw_equation_label(page):
    """Readers see equation numbers, never labels: a code comment or a printed line that says
    "eq-gan-value" points at nothing they can find."""
    nb = nbtool.colab_notebook(page)
    ctx = PageContext(page=page)
    number_page([c.source for c in nb.cells if c.cell_type == "markdown"], ctx)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    named = [label for label in ctx.equations if re.search(rf"(?<![\w-]){label}(?![\w-])", code)]
    assert not named, f"code cells name equation labels {named}: say 'equation (N)'"


@pytest.mark.parametrize("page", nbtool.pages(), ids=lambda p: p.stem)
def test_doc_links_do_not_repeat_the_words_around_them(page):
    """{doc}`x` renders as x's title: "the Transformer chapter, {doc}`transformer`" would read
    "the Transformer chapter, The Transformer"."""
    text = page.read_text(encoding="utf-8")
    for m in re.finditer(r"\{doc\}`([^`<]+)`", text):
        title = page_title((page.parent / m[1]).with_suffix(".md"))
        before = text[max(0, m.start() - 60): m.start()].lower().rstrip()
        if before.endswith(("(", "|")):  # a link in brackets or a table cell stands apart
            continue
        words = re.findall(r"[a-z]{4,}", title.lower())
        repeated = [w for w in words if w in re.findall(r"[a-z]+", before)[-3:]]
        assert not repeated, f"{page.name}: {title!r} follows {before[-40:]!r}"
