"""Drive the built website in Debian's Chromium: what a reader sees, checked on every page.

Needs the site built first (``make site``); ``make test`` does that and then runs these tests.
Screenshots of every page are written to ``_build/screenshots/`` for a person to look at.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import notebooks as nbtool  # noqa: E402  (the one source of the repository and its ref)

HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _pages() -> list[str]:
    """Site paths of the chapters listed in _toc.yml."""
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    return [line.split(":", 1)[1].strip() + ".html" for line in toc.splitlines()
            if line.strip().startswith(("root:", "- file:", "file:"))]


PAGES = _pages()


@pytest.fixture(scope="session")
def site_url():
    if not (HTML / "index.html").exists():
        pytest.fail("the site is not built: run `make site` before the browser tests")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium not found. To run the browser tests: sudo apt-get install chromium "
                    "(Debian's package; `playwright install` cannot download browsers here)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


class Visit:
    """Open one page, recording JavaScript errors and any request that leaves the machine."""

    def __init__(self, browser, url: str):
        self.errors: list[str] = []
        self.external: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("console", self._console)
        self.page.route("**/*", self._route)
        self.page.goto(url, wait_until="load")

    def _console(self, msg) -> None:
        if msg.type == "error":
            self.errors.append(f"console: {msg.text}")

    def _route(self, route) -> None:
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith("data:"):
            route.continue_()
        else:
            self.external.append(route.request.url)
            route.abort()


@pytest.mark.parametrize("path", PAGES)
def test_page_renders_offline(browser, site_url, path):
    visit = Visit(browser, f"{site_url}/{path}")
    page = visit.page
    if page.locator(".math").count():
        page.wait_for_selector("mjx-container", state="attached", timeout=20_000)
        assert page.locator("mjx-container").count() > 0
        raw = page.locator(".math:not(:has(mjx-container))").count()
        assert raw == 0, f"{raw} formula(s) left as raw TeX"
    if page.locator("pre.mermaid, div.mermaid").count():
        page.wait_for_selector(".mermaid svg", state="attached", timeout=20_000)
        diagrams = page.locator("pre.mermaid, div.mermaid").count()
        assert page.locator(".mermaid svg").count() == diagrams
    page.wait_for_timeout(300)  # let late scripts report errors
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / (path.replace("/", "__") + ".png")), full_page=True)
    assert not visit.errors, visit.errors
    assert not visit.external, f"requests that need the internet: {visit.external}"
    page.close()


@pytest.mark.parametrize("path", [p for p in PAGES if (ROOT / "notebooks" / Path(p).relative_to(
    "book").with_suffix(".ipynb")).exists()] if PAGES else [])
def test_launch_buttons_open_the_notebook(browser, site_url, path):
    visit = Visit(browser, f"{site_url}/{path}")
    notebook = "notebooks/" + str(Path(path).relative_to("book").with_suffix(".ipynb"))
    colab = visit.page.locator('a[href*="colab.research.google.com"]')
    assert colab.count() == 1
    assert colab.get_attribute("href").endswith(f"/blob/{nbtool.repository_ref()}/{notebook}")
    assert visit.page.locator('a[href*="mybinder.org"]').count() == 0  # Binder is not offered
    download = visit.page.locator('a[href$=".ipynb"][href*="_sources"]')
    assert download.count() == 1
    page_file = HTML / urlparse(f"{site_url}/{path}").path.lstrip("/")
    served = page_file.parent / download.get_attribute("href")
    assert served.resolve().read_bytes() == (ROOT / notebook).read_bytes()
    assert visit.page.locator('a[href*="/issues/new"]').count() == 1
    visit.page.close()


def _title_word(path: str) -> str:
    source = (ROOT / path).with_suffix(".md").read_text(encoding="utf-8")
    title = next(line[2:] for line in source.splitlines() if line.startswith("# "))
    return max((w.strip("?.,:") for w in title.split()), key=len)


@pytest.mark.parametrize("path", PAGES)
def test_search_finds_the_chapter(browser, site_url, path):
    word = _title_word(path)
    visit = Visit(browser, f"{site_url}/search.html?q={word}")
    visit.page.wait_for_selector("#search-results ul.search li", timeout=20_000)
    hrefs = visit.page.locator("#search-results ul.search li a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    assert any(h.split("?")[0].split("#")[0].endswith(path) for h in hrefs), (word, hrefs)
    assert not visit.errors, visit.errors
    visit.page.close()


def _notebook(path: str) -> Path:
    return ROOT / "notebooks" / Path(path).relative_to("book").with_suffix(".ipynb")


@pytest.mark.parametrize("path", [p for p in PAGES if _notebook(p).exists()])
def test_exercise_numbers_match_the_notebook(path):
    """The site numbers exercises per page, as the Colab notebook does (1, 2, ... on each page)."""
    html = (HTML / path).read_text(encoding="utf-8")
    on_site = [int(n) for n in re.findall(r'class="caption-number">Exercise (\d+)', html)]
    cells = json.loads(_notebook(path).read_text(encoding="utf-8"))["cells"]
    markdown = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    in_notebook = [int(n) for n in re.findall(r"\*\*Exercise (\d+)\.\*\*", markdown)]
    assert on_site == in_notebook == list(range(1, len(in_notebook) + 1))
