"""Tests for the book corpus: the Markdown cleaning step, the pages, the snapshot and the split
by page."""

import hashlib

import pytest

from lessons_pkg.data.book import (
    book_corpus,
    book_pages,
    book_snapshot,
    clean_markdown,
    split_pages,
    write_book_snapshot,
)

PAGE = """---
jupytext:
  text_representation:
    extension: .md
kernelspec:
  name: python3
---

# A title

(sec-intro)=
Prose with a citation {cite}`vaswani2017`, a reference {doc}`../preface` and *emphasis*.
<!-- a comment
over two lines -->

```{code-cell} ipython3
:tags: [remove-cell]
print("code is dropped")
```

```{literalinclude} ../../lessons_pkg/gpt.py
:pyobject: lm_loss
```

$$
y = W x + b
$$ (eq-linear)

Inline math $x^2$ and `inline code` stay.

````{exercise}
:label: ex-1
Exercise prose stays.

```python
print("nested code is dropped")
```
````

```{solution} ex-1
:class: dropdown
Solution prose stays:

    indented_code = "is dropped"

And so does this line.
```

```{mermaid}
flowchart LR
  A --> B
```
Last line, 中文 kept."""


def test_clean_markdown_keeps_prose_and_drops_the_rest():
    assert clean_markdown(PAGE) == (
        "# A title\n\n"
        "Prose with a citation, a reference and *emphasis*.\n\n"
        "Inline math $x^2$ and `inline code` stay.\n\n"
        "Exercise prose stays.\n\n"
        "Solution prose stays:\n\n"
        "And so does this line.\n\n"
        "Last line, 中文 kept."
    )
    assert clean_markdown("") == ""
    with pytest.raises(TypeError, match="text must be a str, got bytes"):
        clean_markdown(b"x")


def test_book_pages_of_a_folder(tmp_path):
    (tmp_path / "part").mkdir()
    (tmp_path / "part" / "b.md").write_text(PAGE, encoding="utf-8")
    (tmp_path / "a.md").write_text("# Only a heading\n\n```{bibliography}\n```\n", encoding="utf-8")
    (tmp_path / "c.md").write_text("Some prose.\r\n", encoding="utf-8")
    pages = book_pages(tmp_path)
    assert list(pages) == ["c", "part/b"]  # sorted; the page with only a heading is left out
    assert pages["c"] == "Some prose."


def test_missing_book_folder_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no book folder at .*git clone.*book_snapshot\(\)"
                                                r".*download_shakespeare"):
        book_pages(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no Markdown pages with prose"):
        book_pages(tmp_path)


def test_live_book_is_clean():
    pages = book_pages()  # the checkout's own book/ folder
    assert len(pages) >= 10 and "practice/language_model" in pages
    for name, text in pages.items():
        for leftover in ("```", "{code-cell}", "{cite}", "{eq}", "jupytext:", ":label:", "$$"):
            assert leftover not in text, (name, leftover)


def test_snapshot_round_trip_and_bundled_copy(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "x.md").write_text(PAGE, encoding="utf-8")
    digest = write_book_snapshot(tmp_path / "snap.json.gz", root=tmp_path / "book")
    assert digest == hashlib.sha256((tmp_path / "snap.json.gz").read_bytes()).hexdigest()
    assert write_book_snapshot(tmp_path / "again.json.gz", root=tmp_path / "book") == digest
    assert book_snapshot(tmp_path / "snap.json.gz") == book_pages(tmp_path / "book")
    bundled = book_snapshot()
    assert len(bundled) >= 10 and all(bundled.values())
    assert sum(map(len, bundled.values())) > 200_000


def test_split_is_by_page_disjoint_and_fixed_by_the_names():
    pages = book_snapshot()
    train, val = split_pages(list(pages))
    assert set(train).isdisjoint(val) and sorted(train + val) == sorted(pages)
    assert len(val) == -(-len(pages) * 15 // 100)  # ceil(0.15 n)
    assert split_pages(list(reversed(pages))) == (train, val)
    train_text, val_text = book_corpus()
    assert (train_text, val_text) == book_corpus(pages)
    for name in val:
        assert pages[name] in val_text and pages[name] not in train_text
    for name in train:
        assert pages[name] in train_text and pages[name] not in val_text
    # No paragraph of a validation page appears in the training text.
    paragraphs = [p for name in val for p in pages[name].split("\n\n") if len(p) > 80]
    assert paragraphs and not any(p in train_text for p in paragraphs)


def test_split_bad_input():
    with pytest.raises(ValueError, match=r"val_fraction must be a number in \(0, 1\), got 0"):
        split_pages(["a", "b"], 0)
    with pytest.raises(ValueError, match=r"val_fraction 0.9 of 2 pages leaves an empty part "
                                         r"\(0 train, 2 validation\)"):
        split_pages(["a", "b"], 0.9)
    with pytest.raises(ValueError, match="names must not repeat"):
        split_pages(["a", "a", "b"])
    with pytest.raises(TypeError, match="pages must be a mapping of page name to text, got list"):
        book_corpus(["a", "b"])
