"""The MyST → plain Markdown translation used for the Colab notebooks."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from colab_markdown import PageContext, number_page, translate_markdown  # noqa: E402

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
