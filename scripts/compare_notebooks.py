"""Compare executed notebooks cell by cell and report where their outputs first differ.

    python scripts/compare_notebooks.py A.ipynb B.ipynb       # two notebooks
    python scripts/compare_notebooks.py DIR_A DIR_B           # every notebook present in both
    python scripts/compare_notebooks.py --all DIR_A DIR_B     # every differing cell, not the first
    python scripts/compare_notebooks.py --tag DIR_A DIR_B     # tag differing cells in book/
    python scripts/compare_notebooks.py --edited A B          # pair cells whose code was edited

``--tag`` marks each code cell whose output differs as ``hardware-dependent`` in its page under
``book/`` (folders of notebooks laid out as ``notebooks/``): compare a page executed in the
reproducible CPU mode with the same page executed another way (natively, on another CPU) to find
the cells whose digits depend on the hardware. ``notebooks/conftest.py`` says what the tag does.

What is compared is what nbval compares: the text of each code cell's outputs (streams, errors,
``text/plain``, ``text/html`` and other text data; PNG and JPEG images are skipped), after the
substitutions of ``nbval_sanitize.cfg`` (timings, memory addresses); cells tagged
``nbval-ignore-output`` or ``nbval-skip`` are not compared. Code cells are matched by
position and must have the same source (``--edited`` drops that requirement). Exit status: 0
when every compared notebook agrees, 1 when some output differs, 2 when the notebooks cannot be
compared (different cells, a missing file).
"""

from __future__ import annotations

import argparse
import configparser
import difflib
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
HARDWARE_TAG = "hardware-dependent"
CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n", re.M)
SANITIZE = ROOT / "nbval_sanitize.cfg"
SKIPPED_DATA = ("image/png", "image/jpeg")
UNCOMPARED_TAGS = {"nbval-ignore-output", "nbval-skip"}  # nbval does not compare these either


def sanitizers(path: Path = SANITIZE) -> list[tuple[re.Pattern, str]]:
    """The (regex, replacement) pairs of an nbval sanitize file."""
    parser = configparser.ConfigParser()
    parser.read(path, encoding="utf-8")
    return [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]


def output_text(cell, rules: list[tuple[re.Pattern, str]]) -> str:
    """One string for everything a code cell printed or displayed, sanitized."""
    parts = []
    last_stream = None
    for out in cell.get("outputs", []):
        kind = out["output_type"]
        if kind == "stream":  # how a stream is split into chunks depends on timing: join them
            if last_stream == out["name"]:
                parts[-1] += out["text"]
            else:
                parts.append(f"[{out['name']}]\n{out['text']}")
            last_stream = out["name"]
            continue
        last_stream = None
        if kind == "error":
            parts.append(f"[error] {out['ename']}: {out['evalue']}")
        else:  # execute_result, display_data
            for mime, value in sorted(out.get("data", {}).items()):
                if mime in SKIPPED_DATA:
                    continue
                text = value if isinstance(value, str) else "".join(value)
                parts.append(f"[{mime}]\n{text}")
    text = "\n".join(parts)
    for regex, replacement in rules:
        text = regex.sub(replacement, text)
    return text


class Incomparable(Exception):
    """The two notebooks do not hold the same code."""


def differing_cells(a: Path, b: Path, rules, *, same_source: bool = True
                    ) -> list[tuple[int, str, str, str]]:
    """(code cell index, source, output in a, output in b) for every code cell that differs.

    With ``same_source=False`` cells are paired by position even where their code was edited
    (e.g. an ``assert`` added), to check that the edit left the outputs alone.
    """
    cells_a = [c for c in nbformat.read(a, as_version=4).cells if c.cell_type == "code"]
    cells_b = [c for c in nbformat.read(b, as_version=4).cells if c.cell_type == "code"]
    if len(cells_a) != len(cells_b):
        raise Incomparable(f"{len(cells_a)} code cells in {a}, {len(cells_b)} in {b}")
    found = []
    for i, (ca, cb) in enumerate(zip(cells_a, cells_b, strict=True)):
        if same_source and ca.source != cb.source:
            raise Incomparable(f"code cell {i} has different source in {a} and {b}")
        if UNCOMPARED_TAGS & set(ca.metadata.get("tags", [])):
            continue
        text_a, text_b = output_text(ca, rules), output_text(cb, rules)
        if text_a != text_b:
            found.append((i, ca.source, text_a, text_b))
    return found


def pairs(a: Path, b: Path) -> list[tuple[Path, Path, str]]:
    if a.is_file() and b.is_file():
        return [(a, b, a.name)]
    if a.is_dir() and b.is_dir():
        names_a = {p.relative_to(a) for p in a.rglob("*.ipynb") if ".ipynb_checkpoints" not in
                   p.parts}
        names_b = {p.relative_to(b) for p in b.rglob("*.ipynb")}
        for only in sorted(names_a ^ names_b):
            print(f"only in {'the first' if only in names_a else 'the second'}: {only}")
        return [(a / n, b / n, str(n)) for n in sorted(names_a & names_b)]
    raise Incomparable(f"give two notebooks or two folders, got {a} and {b}")


def describe(name: str, index: int, source: str, text_a: str, text_b: str) -> str:
    first_line = next((ln for ln in source.splitlines() if ln.strip()), "")
    diff = difflib.unified_diff(text_a.splitlines(), text_b.splitlines(), "first", "second",
                                lineterm="", n=1)
    return f"{name}: code cell {index} ({first_line[:70]!r})\n" + "\n".join(
        "    " + line for line in diff)


def tag_cells(page: Path, indices: list[int]) -> int:
    """Add the hardware-dependent tag to these code cells of a MyST page; return how many."""
    text = page.read_text(encoding="utf-8")
    starts = [m.end() for m in CODE_CELL.finditer(text)]
    added = 0
    for index in sorted(indices, reverse=True):  # from the end, so earlier offsets stay valid
        at = starts[index]
        tags = re.match(r":tags: \[([^\]]*)\]\n", text[at:])
        if tags is None:
            text = text[:at] + f":tags: [{HARDWARE_TAG}]\n" + (
                "" if text[at] == "\n" else "\n") + text[at:]
        elif HARDWARE_TAG in [t.strip() for t in tags.group(1).split(",")]:
            continue
        else:
            end = at + tags.end(1)
            text = text[:end] + f", {HARDWARE_TAG}" + text[end:]
        added += 1
    page.write_text(text, encoding="utf-8")
    return added


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--all", action="store_true", help="report every differing cell")
    parser.add_argument("--quiet", action="store_true", help="one summary line per notebook")
    parser.add_argument("--edited", action="store_true",
                        help="pair code cells by position even where their source differs")
    parser.add_argument("--tag", action="store_true",
                        help=f"tag differing cells {HARDWARE_TAG!r} in their pages under book/")
    args = parser.parse_args(argv)
    rules = sanitizers()
    status = 0
    try:
        todo = pairs(args.first, args.second)
    except Incomparable as err:
        print(err)
        return 2
    if args.tag and not args.first.is_dir():
        print("--tag needs two folders laid out as notebooks/, so that cells map to book/ pages")
        return 2
    n_cells = 0
    for a, b, name in todo:
        try:
            found = differing_cells(a, b, rules, same_source=not args.edited)
        except Incomparable as err:
            print(f"{name}: cannot compare: {err}")
            status = 2
            continue
        if not found:
            print(f"{name}: same outputs")
            continue
        status = max(status, 1)
        n_cells += len(found)
        if args.tag:
            page = ROOT / "book" / Path(name).with_suffix(".md")
            print(f"tagged {tag_cells(page, [i for i, *_ in found])} cell(s) in {page}")
        print(f"{name}: {len(found)} code cell(s) differ")
        if not args.quiet:
            for item in found if args.all else found[:1]:
                print(describe(name, *item))
    print(f"{len(todo)} notebook(s) compared, {n_cells} code cell(s) differ")
    return status


if __name__ == "__main__":
    sys.exit(main())
