"""Local Sphinx extension for the course website.

1. Launch buttons (Colab, Binder) of sphinx-book-theme point at the page's source, ``book/X.md``,
   which Colab cannot open. They are rewritten to the paired, executed ``notebooks/X.ipynb``, and
   the download button serves that same notebook.
2. The theme's colour mode is set explicitly (light, switchable): left empty, pydata-sphinx-theme
   logs "Got invalid theme mode" as a console error on every page.
3. ``static/course.css``: a display formula wider than the column scrolls instead of being cut.
4. sphinx-thebe 0.3.1 emits its inline configuration script twice on Sphinx 7.4, which throws
   "Identifier 'THEBE_JS_URL' has already been declared" in the browser; the duplicate is dropped.
5. Exercises are numbered per page (Exercise 1, 2, ... on each page), like the equations and like
   the Colab notebooks. Sphinx numbers them across the whole book when chapters carry no section
   numbers, which would give "Exercise 41" on the twelfth page.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.application import Sphinx


def _notebook_for(app: Sphinx, pagename: str) -> Path:
    return Path(app.confdir) / "notebooks" / Path(pagename).relative_to("book").with_suffix(
        ".ipynb"
    )


def _rewrite_buttons(app: Sphinx, pagename: str, templatename, context: dict, doctree) -> None:
    if not pagename.startswith("book/"):
        return
    notebook = _notebook_for(app, pagename)
    if not notebook.exists():
        return
    source_rel = f"{pagename}.md"
    notebook_rel = notebook.relative_to(app.confdir).as_posix()
    for group in context.get("header_buttons", []):
        if group.get("label") == "launch-buttons":
            for button in group.get("buttons", []):
                if "url" in button:
                    button["url"] = button["url"].replace(source_rel, notebook_rel)
    # The download button offers ``_sources/<page>.ipynb``: make it the Colab-ready notebook.
    if context.get("ipynb_source"):
        target = Path(app.outdir) / "_sources" / context["ipynb_source"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(notebook, target)


def _drop_duplicate_scripts(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    script_files = context.get("script_files")
    if not script_files:
        return
    seen, unique = set(), []
    for script in script_files:
        body = getattr(script, "attributes", {}).get("body")
        key = ("body", body) if body else ("file", str(script))
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    context["script_files"] = unique


def _number_exercises_per_page(app: Sphinx, env) -> list[str]:
    # Runs after Sphinx's own figure numbering (env-get-updated, priority 500), which assigns
    # numbers in reading order; renumbering keeps that order and restarts at 1 on every page.
    for numbers in env.toc_fignumbers.values():
        exercises = numbers.get("exercise")
        if exercises:
            order = sorted(exercises, key=exercises.get)
            numbers["exercise"] = {ident: (i,) for i, ident in enumerate(order, start=1)}
    return []


def _theme_defaults(app: Sphinx, config) -> None:
    config.html_context.setdefault("default_mode", "light")
    config.html_static_path.append(str(Path(__file__).parent / "static"))


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _theme_defaults)
    app.add_css_file("course.css")
    # The theme adds the launch buttons at priority 501: run after it.
    app.connect("html-page-context", _rewrite_buttons, priority=502)
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    app.connect("env-get-updated", _number_exercises_per_page, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
