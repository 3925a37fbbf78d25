"""Translate MyST markup in markdown cells into plain Markdown that Colab and Jupyter render.

The website renders the MyST source in ``book/``; Colab renders the paired notebook in
``notebooks/``, which knows nothing of Sphinx roles and directives. This module rewrites, in
markdown cells only:

- ``{cite}`key``` → "(Author et al., year)" from ``book/references.bib``;
- ``$$ … $$ (label)`` → ``$$ … \\tag{N} $$`` and ``{eq}`label``` → "(N)";
- ``{exercise}`` / ``{solution}`` → "**Exercise N.**" and a ``<details>`` solution;
- admonitions → block quotes; ``{dropdown}`` → ``<details>``;
- ``{mermaid}`` → a fenced ``mermaid`` block; ``{literalinclude}`` → the included code itself;
- ``{doc}``/``{ref}``/``{term}``/``{math}`` roles → links or plain text; ``(label)=`` targets and
  ``%`` comments are dropped.

Unknown roles or directives raise ``ValueError`` so a page never reaches Colab half-translated.
Code cells are never touched: they must equal the page's code cells exactly.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIB = ROOT / "book" / "references.bib"

ADMONITIONS = {
    "note": "Note", "tip": "Tip", "hint": "Hint", "important": "Important",
    "warning": "Warning", "caution": "Caution", "attention": "Attention", "danger": "Danger",
    "error": "Error", "seealso": "See also",
}
FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}\s*(?P<arg>.*)$")
ROLE = re.compile(r"\{(?P<name>[\w:-]+)\}`(?P<body>[^`]*)`")
DISPLAY_MATH_LABEL = re.compile(r"\$\$\s*\((?P<label>[\w:.-]+)\)\s*$")


def _latex_to_text(text: str) -> str:
    import codecs

    import latexcodec  # noqa: F401  (registers the "ulatex" codec; pybtex depends on it)

    return codecs.decode(text, "ulatex").replace("{", "").replace("}", "")


@dataclass(frozen=True)
class BibEntry:
    """What a Colab notebook shows of one reference: the in-text form and the list entry."""

    author: str  # "Vaswani et al." (for citations)
    year: str
    reference: str  # the entry of the references list


def _bib_entries() -> dict[str, BibEntry]:
    """Map each BibTeX key to its author–year citation and its references-list entry."""
    from pybtex.database import parse_file

    entries = {}
    for key, entry in parse_file(str(BIB)).entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [_latex_to_text(" ".join(p.last_names)) for p in people]
        fields = {k: _latex_to_text(v) for k, v in entry.fields.items()}
        if not names:
            author = fields.get("organization", fields.get("institution", key))
        elif len(names) == 1:
            author = names[0]
        elif len(names) == 2:
            author = f"{names[0]} and {names[1]}"
        else:
            author = f"{names[0]} et al."
        full = [_latex_to_text(" ".join(p.last_names) + ", "
                               + " ".join(p.first_names + p.middle_names)) for p in people]
        if full and full[-1].startswith("others"):  # BibTeX's "and others"
            full[-1] = "et al."
        if len(full) > 1 and full[-1] == "et al.":
            who = ", ".join(full[:-1]) + ", et al."
        elif len(full) > 1:
            who = ", ".join(full[:-1]) + (", and " if len(full) > 2 else " and ") + full[-1]
        else:
            who = full[0] if full else author
        year = fields.get("year", "n.d.")
        venue = (fields.get("journal") or fields.get("booktitle") or fields.get("institution")
                 or fields.get("publisher") or fields.get("howpublished") or "")
        link = fields.get("url") or (f"https://doi.org/{fields['doi']}" if "doi" in fields else "")
        reference = f"{who} ({year}). {fields.get('title', key)}."
        if venue:
            reference += f" *{venue}*."
        if link:
            reference += f" <{link}>"
        entries[key] = BibEntry(author, year, reference)
    return entries


def references_markdown(ctx: PageContext, keys: list[str], heading: bool = True) -> str:
    """The references list of ``keys`` (in the order given), as the website's bibliography lists
    them: one bullet per work; with ``heading``, under a "References" heading."""
    items = "\n".join(f"- {ctx.bib[key].reference}" for key in keys)
    return f"## References\n\n{items}" if heading else items


@dataclass
class PageContext:
    """What the translation of one page needs to know about the page as a whole."""

    page: Path
    equations: dict[str, int] = field(default_factory=dict)
    exercises: dict[str, int] = field(default_factory=dict)
    cited: list[str] = field(default_factory=list)  # keys in order of first citation
    _bib: dict[str, BibEntry] | None = None

    @property
    def bib(self) -> dict[str, BibEntry]:
        if self._bib is None:
            self._bib = _bib_entries()
        return self._bib

    @property
    def all_keys(self) -> list[str]:
        """Every key of the bibliography file."""
        return list(self.bib)


def number_page(markdown_cells: list[str], ctx: PageContext) -> None:
    """Number the labelled equations and exercises of a page in reading order."""
    for text in markdown_cells:
        lines = text.splitlines()
        for i, line in enumerate(lines):
            m = DISPLAY_MATH_LABEL.search(line)
            if m and line.strip() != "$$":
                ctx.equations[m["label"]] = len(ctx.equations) + 1
            fm = FENCE.match(line)
            if fm and fm["name"] == "exercise":
                label = None
                for opt in lines[i + 1:]:
                    if not opt.startswith(":"):
                        break
                    if opt.startswith(":label:"):
                        label = opt.split(":", 2)[2].strip()
                ctx.exercises[label or f"_exercise{len(ctx.exercises) + 1}"] = (
                    len(ctx.exercises) + 1
                )


def _split_options(body: list[str]) -> tuple[dict[str, str], list[str]]:
    options: dict[str, str] = {}
    i = 0
    while i < len(body) and re.match(r"^:[\w-]+:", body[i]):
        _, key, value = body[i].split(":", 2)
        options[key] = value.strip()
        i += 1
    return options, body[i:]


def _extract_pyobject(source: str, name: str) -> str:
    """The source of ``name`` (``func``, ``Class`` or ``Class.method``), decorators included."""
    lines = source.splitlines()
    scope: list[ast.stmt] = ast.parse(source).body
    node = None
    for part in name.split("."):
        node = next((n for n in scope if isinstance(n, ast.FunctionDef | ast.ClassDef |
                                                    ast.AsyncFunctionDef) and n.name == part), None)
        if node is None:
            raise ValueError(f"literalinclude: no object named {name!r}")
        scope = node.body
    start = min([d.lineno for d in node.decorator_list] + [node.lineno])
    return textwrap.dedent("\n".join(lines[start - 1: node.end_lineno]))


def _literalinclude(arg: str, options: dict[str, str], ctx: PageContext) -> str:
    unknown = sorted(set(options) - {"pyobject", "language"})
    if unknown:
        raise ValueError(f"{ctx.page}: literalinclude options {unknown} are not translated")
    path = (ctx.page.parent / arg).resolve()
    source = path.read_text(encoding="utf-8")
    if "pyobject" in options:
        source = _extract_pyobject(source, options["pyobject"])
    language = options.get("language", "python")
    return f"```{language}\n{source.rstrip()}\n```"


def _role(m: re.Match, ctx: PageContext) -> str:
    name, body = m["name"], m["body"]
    explicit = re.match(r"^(?P<text>.*?)\s*<(?P<target>[^>]+)>$", body)
    if name in ("cite", "cite:p", "cite:t", "cite:ps", "cite:ts"):
        parts = []
        for key in [k.strip() for k in body.split(",")]:
            if key not in ctx.bib:
                raise ValueError(f"{ctx.page}: citation key {key!r} is not in {BIB.name}")
            author, year = ctx.bib[key].author, ctx.bib[key].year
            if key not in ctx.cited:
                ctx.cited.append(key)
            parts.append(f"{author} ({year})" if name.startswith("cite:t") else f"{author}, {year}")
        return "; ".join(parts) if name.startswith("cite:t") else f"({'; '.join(parts)})"
    if name == "eq":
        if body not in ctx.equations:
            raise ValueError(f"{ctx.page}: equation label {body!r} is not defined on this page")
        return f"({ctx.equations[body]})"
    if name == "doc":
        text, target = (explicit["text"], explicit["target"]) if explicit else (None, body)
        if text is None:
            text = _page_title((ctx.page.parent / target).with_suffix(".md"))
        return f"[{text}]({target}.ipynb)"
    if name in ("ref", "numref"):
        return explicit["text"] if explicit else body.replace("-", " ")
    if name in ("term", "abbr", "index", "download", "sup", "sub"):
        return explicit["text"] if explicit else re.sub(r"\s*\(.*\)$", "", body)
    if name == "math":
        return f"${body}$"
    raise ValueError(f"{ctx.page}: role {{{name}}} has no Colab translation")


def _page_title(md: Path) -> str:
    for line in md.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return md.stem


def _trim(text: str) -> str:
    """``text`` without its leading and trailing blank lines; indentation is kept, since a first
    line indented by four spaces opens a code block."""
    lines = text.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def _opens_block(text: str) -> bool:
    """True when ``text`` starts with something that cannot follow prose on its line."""
    return text.startswith(("    ", "\t", "```", "$$", ">", "- ", "* ", "|", "<"))


def _directive(name: str, arg: str, body: list[str], ctx: PageContext) -> str:
    options, content = _split_options(body)
    inner = _trim(translate_markdown("\n".join(content), ctx)) if name != "mermaid" else ""
    if name == "exercise":
        label = options.get("label") or f"_exercise{len(ctx.exercises)}"
        number = ctx.exercises.get(label, "")
        return f"**Exercise {number}.**" + ("\n\n" if _opens_block(inner) else " ") + inner
    if name == "solution":
        return f"<details>\n<summary>Solution</summary>\n\n{inner}\n\n</details>"
    if name == "dropdown":
        return f"<details>\n<summary>{arg or 'Details'}</summary>\n\n{inner}\n\n</details>"
    if name in ADMONITIONS or name == "admonition":
        title = arg if name == "admonition" else ADMONITIONS[name]
        quoted = "\n".join(f"> {line}" if line else ">" for line in inner.splitlines())
        return f"> **{title}**\n>\n{quoted}"
    if name == "mermaid":
        return "```mermaid\n" + "\n".join(content).strip() + "\n```"
    if name == "literalinclude":
        return _literalinclude(arg, options, ctx)
    if name == "math":
        label = options.get("label")
        tag = f"\n\\tag{{{ctx.equations[label]}}}" if label in ctx.equations else ""
        return f"$$\n{inner.strip()}{tag}\n$$"
    if name == "bibliography":
        return references_markdown(ctx, sorted(ctx.all_keys), heading=False)
    raise ValueError(f"{ctx.page}: directive {{{name}}} has no Colab translation")


def translate_markdown(text: str, ctx: PageContext) -> str:
    """Return ``text`` with every MyST role and directive replaced by plain Markdown."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        fm = FENCE.match(line)
        if fm:
            fence = fm["fence"]
            j = i + 1
            while j < len(lines) and lines[j].rstrip() != fence:
                j += 1
            if j == len(lines):
                raise ValueError(f"{ctx.page}: directive {fm['name']} is never closed")
            out.append(_directive(fm["name"], fm["arg"].strip(), lines[i + 1: j], ctx))
            i = j + 1
            continue
        if re.match(r"^\([\w:.-]+\)=\s*$", line) or line.startswith("%"):
            i += 1  # MyST target or comment: nothing to show in a notebook
            continue
        m = DISPLAY_MATH_LABEL.search(line)
        if m and m["label"] in ctx.equations:
            head = line[: m.start()]
            if head.strip():
                out.append(head.rstrip())
            out.append(f"\\tag{{{ctx.equations[m['label']]}}}")
            out.append("$$")
            i += 1
            continue
        if "({eq}`" in line:
            raise ValueError(f"{ctx.page}: write {{eq}}`label` without parentheses: it renders "
                             f"as (N) already, so ({{eq}}`label`) reads ((N)): {line.strip()!r}")
        out.append(ROLE.sub(lambda mm: _role(mm, ctx), line))
        i += 1
    return "\n".join(out)
