"""The course's own chapters as a real English corpus that needs no download.

Chapter: Practice › Tokenization (a BPE tokenizer and a GPT trained on real text).

The corpus is the prose of the book's MyST Markdown pages (``book/**/*.md``). The cleaning step,
:func:`clean_markdown`, keeps what a reader reads as text and drops what is not English prose:

- the YAML front matter (``---`` … ``---`` at the top of a page);
- code cells and every other fenced block of code or machinery (```` ```{code-cell} ````,
  ```` ```python ````, ```` ```{literalinclude} ````, ```` ```{mermaid} ````,
  ```` ```{bibliography} ````), and indented code blocks;
- the fences and ``:option:`` lines of MyST directives whose body is prose (exercises,
  solutions, admonitions such as ``{important}``): their body is kept;
- display math (``$$`` … ``$$``), MyST roles with their target (``{cite}`key```,
  ``{eq}`label```, ``{doc}`../page```), label lines ``(name)=`` and HTML comments.

Inline Markdown (emphasis, links, tables, inline code and math) stays: it is part of the text.

The split is by page, never inside a page, so that no paragraph of a validation page is seen in
training (a page repeats its own phrases). :func:`split_pages` orders the pages by the SHA-256 of
their name and sends the first ones to validation: the choice does not depend on the file system.

Two sources of pages: :func:`book_pages` reads the live ``book/`` folder of a repository checkout;
:func:`book_snapshot` reads a copy of the cleaned pages bundled with the package (the book as of
its version 0.1.0), which also works when the package is pip-installed (as in Colab) and does not
change when a page is edited, so a chapter trained on it prints the same numbers on every run.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from lessons_pkg._checks import check_number
from lessons_pkg.checkpoint import atomic_write

__all__ = ["SNAPSHOT_PATH", "book_corpus", "book_pages", "book_snapshot", "clean_markdown",
           "split_pages", "write_book_snapshot"]

SNAPSHOT_PATH = Path(__file__).with_name("book_snapshot.json.gz")
# Directives whose body is prose: the body stays, the fence and option lines go.
PROSE_DIRECTIVES = frozenset({
    "admonition", "attention", "caution", "danger", "dropdown", "epigraph", "error", "exercise",
    "hint", "important", "margin", "note", "seealso", "sidebar", "solution", "tip", "warning",
})
_FENCE = re.compile(r"^ *(`{3,}|~{3,}|:{3,})\s*(\{([\w:-]+)\})?")
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
_ROLE = re.compile(r" ?\{[\w:-]+\}`[^`]*`")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_LABEL = re.compile(r"^\([\w.:-]+\)=\s*$")
_OPTION = re.compile(r"^ *:[\w-]+:")
_NO_BOOK = (
    "no book folder at {root}: book_pages reads the Markdown of a checkout of the course's "
    "repository (git clone it and pass root='<checkout>/book'). A pip-installed package has no "
    "book folder: use book_snapshot() (bundled, offline) or, online, "
    "lessons_pkg.data.download.download_shakespeare()"
)


def clean_markdown(text: str) -> str:
    """The prose of one MyST Markdown page (the rules are listed in the module's docstring)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = _COMMENT.sub("", _FRONT_MATTER.sub("", text.replace("\r\n", "\n")))
    out: list[str] = []
    closing: list[tuple[str, bool]] = []  # open fences: (marker, body kept?)
    in_math = options_allowed = False
    for line in text.split("\n"):
        fence = _FENCE.match(line)
        if closing and fence and fence.group(1).startswith(closing[-1][0]) and not fence.group(2):
            closing.pop()  # a bare fence at least as long as the open one closes it
            continue
        if closing and not closing[-1][1]:
            continue  # inside a dropped block (nested fences are dropped with it)
        if fence:
            closing.append((fence.group(1), fence.group(3) in PROSE_DIRECTIVES))
            options_allowed = True
            continue
        if options_allowed and _OPTION.match(line):
            continue  # ":label: ex-1", ":class: dropdown" right after a directive's fence
        options_allowed = False
        if line.strip().startswith("$$"):
            single = line.strip() != "$$" and line.strip()[2:].rstrip().endswith("$$")
            in_math = in_math if single else not in_math  # "$$ (label)" closes a block too
            continue
        indented = line.startswith("    ") and (not out or not out[-1].strip()
                                                or out[-1] is _CODE)
        if in_math or _LABEL.match(line) or indented:
            if indented:
                out.append(_CODE)
            continue
        out.append(_ROLE.sub("", line).rstrip())
    lines = [line for line in out if line is not _CODE]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_CODE = "\0code"  # a marker for lines of an indented code block, removed at the end


def book_pages(root: str | os.PathLike | None = None) -> dict[str, str]:
    """The cleaned text of every page under ``root`` (default: the ``book/`` folder of the
    checkout this package lives in), keyed by the page's path without ``.md``, sorted.

    Pages with nothing left but headings (a bibliography page) are left out.

    Raises:
        FileNotFoundError: there is no such folder (a pip-installed package); the message says
            what to do instead.
    """
    folder = Path(root) if root is not None else Path(__file__).resolve().parents[2] / "book"
    if not folder.is_dir():
        raise FileNotFoundError(_NO_BOOK.format(root=folder))
    pages = {}
    for path in sorted(folder.rglob("*.md")):
        text = clean_markdown(path.read_text(encoding="utf-8"))
        if any(line.strip() and not line.startswith("#") for line in text.split("\n")):
            pages[path.relative_to(folder).with_suffix("").as_posix()] = text
    if not pages:
        raise FileNotFoundError(f"no Markdown pages with prose under {folder}")
    return pages


def write_book_snapshot(path: str | os.PathLike = SNAPSHOT_PATH,
                        root: str | os.PathLike | None = None) -> str:
    """Write :func:`book_pages` to a gzipped JSON file (atomically); return its SHA-256.

    This is how the bundled snapshot was made:
    ``python -c "from lessons_pkg.data.book import write_book_snapshot; write_book_snapshot()"``.
    """
    data = json.dumps(book_pages(root), ensure_ascii=False, indent=0, sort_keys=True)
    blob = gzip.compress(data.encode("utf-8"), mtime=0)  # mtime=0: the same bytes every time
    atomic_write(path, lambda handle: handle.write(blob))
    return hashlib.sha256(blob).hexdigest()


def book_snapshot(path: str | os.PathLike = SNAPSHOT_PATH) -> dict[str, str]:
    """The cleaned pages bundled with the package (page name -> text), as :func:`book_pages`
    gave them for the book of version 0.1.0."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def split_pages(names: Sequence[str], val_fraction: float = 0.15) -> tuple[list[str], list[str]]:
    """Split page names into (train, validation), each sorted.

    ``ceil(val_fraction · n)`` pages go to validation: those whose names have the smallest
    SHA-256, so the choice is fixed by the names alone. Both parts must be non-empty.
    """
    check_number("val_fraction", val_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    names = list(names)
    if len(set(names)) != len(names):
        raise ValueError("names must not repeat")
    n_val = math.ceil(val_fraction * len(names))
    if not 1 <= n_val <= len(names) - 1:
        raise ValueError(f"val_fraction {val_fraction} of {len(names)} pages leaves an empty part "
                         f"({len(names) - n_val} train, {n_val} validation)")
    by_hash = sorted(names, key=lambda name: hashlib.sha256(name.encode("utf-8")).hexdigest())
    val = set(by_hash[:n_val])
    return sorted(set(names) - val), sorted(val)


def book_corpus(pages: Mapping[str, str] | None = None,
                val_fraction: float = 0.15) -> tuple[str, str]:
    """The book as (train_text, val_text), split by page with :func:`split_pages`.

    Args:
        pages: page name -> text; default :func:`book_snapshot` (offline, fixed). Pass
            ``book_pages()`` for the live book of a checkout, or any documents of your own.
        val_fraction: share of the pages, in (0, 1), that go to validation.

    Pages are joined in name order with a blank line between them.
    """
    if pages is None:
        pages = book_snapshot()
    if not isinstance(pages, Mapping):
        raise TypeError(f"pages must be a mapping of page name to text, got "
                        f"{type(pages).__name__}")
    train, val = split_pages(list(pages), val_fraction)
    return "\n\n".join(pages[n] for n in train), "\n\n".join(pages[n] for n in val)
