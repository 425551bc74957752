"""The default theme as validators, Chromium and readers see it: valid HTML on every page, no axe
violations, no sideways scrolling on a phone, nothing fetched from elsewhere, readable without
JavaScript, and an essay that prints cleanly."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_support import ESSAY, KEY_PAGES, VNU_JAR, Browser
from lxml import html as lxml_html

ESSAY_WITH_LINK = "/posts/the-rude-counter/"  # links to another essay

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def html_pages(root: Path) -> list[Path]:
    return sorted(root.rglob("*.html"))


def url_path(root: Path, page: Path) -> str:
    rel = page.relative_to(root).as_posix()
    return "/" + (rel[: -len("index.html")] if rel.endswith("index.html") else rel)


@pytest.fixture(scope="session")
def vnu_report(system_tools: None, npm_tools: Path, built_site: Path) -> dict[str, Any]:
    """The Nu HTML Checker's JSON report on every page, from one JVM."""
    pages = html_pages(built_site)
    done = subprocess.run(
        ["java", "-Xss16m", "-jar", str(VNU_JAR), "--errors-only", "--format", "json",
         *[str(p) for p in pages]],
        capture_output=True, text=True, timeout=300)
    # vnu writes its report to stderr and exits 1 when it found errors.
    try:
        report: dict[str, Any] = json.loads(done.stderr)
    except json.JSONDecodeError:
        pytest.fail(f"the Nu HTML Checker did not run (exit {done.returncode}):\n"
                    f"{done.stdout}{done.stderr}"[-3000:], pytrace=False)
    report["checked"] = pages
    return report


def test_every_page_is_valid_html(vnu_report: dict[str, Any], built_site: Path) -> None:
    assert len(vnu_report["checked"]) >= 25  # every page of the sample site, not a few
    errors = [(Path(urlsplit(m.get("url", "")).path).relative_to(built_site).as_posix()
               if m.get("url") else "?", m.get("lastLine"), m["message"])
              for m in vnu_report["messages"]]
    assert errors == []


@pytest.fixture(scope="session")
def axe_source(npm_tools: Path) -> str:
    return (npm_tools / "axe-core" / "axe.min.js").read_text(encoding="utf-8")


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("kind", list(KEY_PAGES))
def test_no_axe_violations(browser: Browser, axe_source: str, kind: str, width: int,
                           scheme: str) -> None:
    browser.open(KEY_PAGES[kind], width=width, scheme=scheme)
    violations = browser.run_axe(axe_source, AXE_TAGS)
    assert violations == []


def test_axe_finds_a_violation_when_there_is_one(browser: Browser, axe_source: str) -> None:
    """The check above can fail: an image without alt text on the page is reported."""
    browser.open("/")
    browser.driver.execute_script(
        "const i = document.createElement('img'); i.src = '/favicon.svg';"
        "document.querySelector('main').append(i);")
    assert "image-alt" in [v["id"] for v in browser.run_axe(axe_source, AXE_TAGS)]


@pytest.mark.parametrize("width", [320, 390, 1280])
def test_no_page_scrolls_sideways(browser: Browser, built_site: Path, width: int) -> None:
    too_wide = {}
    for page in html_pages(built_site):
        path = url_path(built_site, page)
        if lxml_html.parse(str(page)).xpath("//meta[@http-equiv='refresh']"):
            continue  # an alias: a redirect, gone before it could be measured
        browser.open(path, width=width, height=800)
        scroll, client = browser.driver.execute_script(
            "const e = document.documentElement; return [e.scrollWidth, e.clientWidth];")
        if scroll > client:
            too_wide[path] = (scroll, client)
    assert too_wide == {}


def test_requests_stay_on_the_site(browser: Browser, site_url: str) -> None:
    origin = urlsplit(site_url).netloc
    for kind, path in KEY_PAGES.items():
        browser.open(path)
        fetched = browser.driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name);")
        elsewhere = [u for u in fetched if urlsplit(u).netloc != origin]
        assert (kind, elsewhere) == (kind, [])


def test_essay_is_readable_without_javascript(browser_without_js: Browser,
                                              built_site: Path) -> None:
    driver = browser_without_js.driver
    # JavaScript really is off: a page whose script would change the title keeps its own.
    driver.get("data:text/html,<title>off</title><script>document.title='on'</script>")
    assert driver.title == "off"

    from selenium.webdriver.common.by import By

    browser_without_js.open(ESSAY, width=390)
    shown = [p.text for p in driver.find_elements(By.CSS_SELECTOR, "main .post-content > p")
             if p.is_displayed()]
    source = lxml_html.parse(str(built_site / ESSAY.strip("/") / "index.html"))
    expected = [" ".join(p.text_content().split())
                for p in source.xpath("//main//div[@class='post-content']/p")]
    assert len(expected) >= 5
    assert [" ".join(t.split()) for t in shown] == expected
    title = driver.find_element(By.CSS_SELECTOR, "main h1")
    assert title.is_displayed() and title.text == source.xpath("string(//main//h1)").strip()


def test_essay_prints_cleanly(browser: Browser) -> None:
    browser.open(ESSAY_WITH_LINK)
    on_screen = browser.driver.execute_script(
        "return getComputedStyle(document.querySelector('.print-url')).display")
    assert on_screen == "none"
    browser.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        state = browser.driver.execute_script("""
            const shown = s => [...document.querySelectorAll(s)]
                .some(e => getComputedStyle(e).display !== 'none');
            const link = document.querySelector('.post-content a:not([href^="#"]):not([class])');
            return {
              hidden: ['.site-nav', '.site-footer', '.reply-box', '.more-essays', '.skip-link']
                .filter(s => document.querySelector(s) && !shown(s)),
              content: shown('.post-content'),
              url: shown('.print-url') ? document.querySelector('.print-url').textContent : null,
              canonical: document.querySelector('link[rel=canonical]').href,
              background: getComputedStyle(document.body).backgroundColor,
              link: link ? link.getAttribute('href') : null,
              after: link ? getComputedStyle(link, '::after').content : null,
            };""")
    finally:
        browser.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert state["hidden"] == [".site-nav", ".site-footer", ".reply-box", ".more-essays",
                               ".skip-link"]
    assert state["content"] is True
    # The page's address heads the paper, so that the paths printed after links can be followed.
    assert state["url"] == state["canonical"]
    assert state["background"] == "rgb(255, 255, 255)"
    # Link targets are printed after links in the text: ` (/posts/...)`, ` (https://...)`.
    assert state["link"] is not None
    assert state["after"] == json.dumps(f" ({state['link']})")
