"""The default theme's promises that can be read from the built files (issue 3): what each page
shows, no external requests, no JavaScript needed, a small stylesheet, a favicon and a default
Open Graph image. What only a browser can tell is in tests/browser/."""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import lxml.html
import pytest
from helpers import Result, SampleBuild, html_pages, is_redirect, output_file, page

from csblog.themes import builtin_theme_dir, format_date

THEME = builtin_theme_dir()
CSS_BUDGET = 20_000  # bytes, uncompressed, for every stylesheet of the theme together


def text(el: lxml.html.HtmlElement) -> str:
    return " ".join(el.text_content().split())


def classes(el: lxml.html.HtmlElement) -> set[str]:
    return set((el.get("class") or "").split())


def by_class(doc: lxml.html.HtmlElement, name: str) -> list[lxml.html.HtmlElement]:
    return list(doc.xpath(f"//*[contains(concat(' ', normalize-space(@class), ' '), ' {name} ')]"))


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# --- the stylesheet, assets and requests -----------------------------------------------------

def test_theme_css_is_under_budget() -> None:
    sizes = {p.name: p.stat().st_size for p in (THEME / "static").rglob("*.css")}
    assert sizes and sum(sizes.values()) < CSS_BUDGET, sizes


def css_urls(css: str) -> list[str]:
    without_comments = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", without_comments)
    imports = re.findall(r"@import\s+['\"]([^'\"]+)", without_comments)
    return urls + imports


def test_theme_css_fetches_nothing_from_elsewhere() -> None:
    for sheet in (THEME / "static").rglob("*.css"):
        remote = [u for u in css_urls(sheet.read_text(encoding="utf-8"))
                  if urlsplit(u).scheme or u.startswith("//")]
        assert (sheet.name, remote) == (sheet.name, [])


# What a browser fetches on its own when it loads a page (links the reader follows are not).
FETCHED = ("//link[not(@rel='canonical') and not(@rel='alternate')]/@href | //script/@src"
           " | //img/@src | //img/@srcset | //source/@src | //source/@srcset | //iframe/@src"
           " | //video/@src | //video/@poster | //audio/@src | //object/@data | //embed/@src")


def test_pages_fetch_nothing_from_elsewhere(sample: SampleBuild) -> None:
    remote = []
    for rel, doc in html_pages(sample.output):
        for value in doc.xpath(FETCHED):
            for candidate in value.split(","):
                u = candidate.strip().split(" ")[0]
                if urlsplit(u).scheme or u.startswith("//"):
                    remote.append((rel, u))
    assert remote == []


def test_pages_need_no_javascript(sample: SampleBuild) -> None:
    """The only scripts are JSON-LD data blocks; nothing runs."""
    scripts = [(rel, s.get("type")) for rel, doc in html_pages(sample.output)
               for s in doc.xpath("//script")]
    assert scripts and {t for _, t in scripts} == {"application/ld+json"}
    handlers = [(rel, name) for rel, doc in html_pages(sample.output)
                for el in doc.iter() if isinstance(el.tag, str)
                for name in el.attrib if name.startswith("on")]
    assert handlers == []


def test_every_page_links_the_theme_stylesheet_and_favicon(sample: SampleBuild) -> None:
    for rel, doc in html_pages(sample.output):
        if is_redirect(doc):
            continue
        sheets = doc.xpath("//link[@rel='stylesheet']/@href")
        icons = doc.xpath("//link[@rel='icon' or @rel='apple-touch-icon']/@href")
        assert sheets and len(icons) == 2, rel
        for url in sheets + icons:
            assert output_file(sample.output, url).is_file(), (rel, url)


def test_home_screen_icon_is_the_size_phones_ask_for() -> None:
    assert png_size(THEME / "static" / "apple-touch-icon.png") == (180, 180)


def test_default_open_graph_image_ships_with_the_theme(sample: SampleBuild) -> None:
    shipped = THEME / "static" / "images" / "og-default.png"
    assert png_size(shipped) == (1200, 630)
    assert (sample.output / "images" / "og-default.png").read_bytes() == shipped.read_bytes()


def test_every_indexable_page_has_a_raster_open_graph_image(sample: SampleBuild) -> None:
    for rel, doc in html_pages(sample.output):
        if is_redirect(doc) or doc.xpath("//meta[@name='robots' and @content='noindex']"):
            continue
        images = doc.xpath("//meta[@property='og:image']/@content")
        assert len(images) == 1, rel
        assert urlsplit(images[0]).scheme == "https"  # absolute, as Open Graph requires
        file = output_file(sample.output, urlsplit(images[0]).path)
        assert file.suffix in {".png", ".jpg", ".jpeg", ".webp", ".gif"}, (rel, images[0])
        assert file.is_file(), (rel, images[0])
        titles = doc.xpath("//meta[@property='og:title']/@content")
        assert len(titles) == 1 and titles[0].strip(), rel


# --- what readers see ----------------------------------------------------------------------

def test_home_features_the_latest_essay_then_lists_the_rest(sample: SampleBuild) -> None:
    doc = page(sample.output, "/")
    summaries = doc.xpath("//main//ul[@class='post-list']/li/article")
    assert len(summaries) == 5
    assert [("summary-featured" in classes(a)) for a in summaries] == [True] + [False] * 4
    newest = max(sample.published, key=lambda p: p.day)
    assert text(summaries[0].xpath(".//h2")[0]) == newest.title
    # The second page features nothing: the latest essay is on the first.
    assert by_class(page(sample.output, "/page/2/"), "summary-featured") == []


def test_listings_show_title_date_author_reading_time_tags_and_replies(
        sample: SampleBuild) -> None:
    doc = page(sample.output, "/")
    for article in doc.xpath("//main//ul[@class='post-list']/li/article"):
        assert article.xpath(".//h2/a/@href")
        assert article.xpath(".//p[@class='byline']//time/@datetime")
        assert article.xpath(".//a[@class='byline-author']")
        assert re.fullmatch(r"\d+ min read", text(by_class(article, "reading-time")[0]))
        assert article.xpath(".//ul[@class='tag-list']/li/a")
    counts = {text(a.xpath("ancestor::article//h2")[0]): (a.text or "").strip()
              for a in by_class(doc, "reply-count")}
    assert counts == {"The agent who actually read my ticket": "2 replies",
                      "The waiter who kept the glasses full": "2 replies"}


def test_pager_comes_after_the_list_not_inside_it(sample: SampleBuild) -> None:
    for url in ("/", "/page/2/"):
        doc = page(sample.output, url)
        pager = doc.xpath("//nav[@aria-label='Pagination']")
        assert len(pager) == 1, url
        assert pager[0].xpath("ancestor::ul | ancestor::article | ancestor::li") == []
        listing = pager[0].xpath("preceding-sibling::ul[@class='post-list']")
        assert listing, url


@pytest.mark.parametrize("slug", ["forty-minutes-in-the-pharmacy-queue",
                                  "the-agent-who-actually-read-my-ticket", "cafe-manners"])
def test_essay_page_has_every_part(sample: SampleBuild, slug: str) -> None:
    doc = page(sample.output, f"/posts/{slug}/")
    article = doc.xpath("//main/article[@class='post']")[0]
    header = article.xpath("./header")[0]
    assert header.xpath("./h1") and header.xpath("./p[@class='byline']//time")
    assert by_class(header, "reading-time") and header.xpath(".//ul[@class='tag-list']")
    toc = article.xpath("./nav[@class='toc']")
    assert toc and toc[0].xpath(".//a[starts-with(@href, '#')]")
    assert article.xpath("./div[@class='post-content']/p")
    boxes = article.xpath("./footer//section[@class='author-box']")
    assert boxes and boxes[0].xpath(".//h2/a/@href") and by_class(boxes[0], "author-bio")
    reply_box = doc.xpath("//main/section[@class='reply-box']")[0]
    assert reply_box.xpath(".//a[starts-with(@href, 'mailto:')]")
    # It says plainly what happens before the reader presses the button.
    assert [text(p) for p in reply_box.xpath("./p")][0] == (
        "Replies come by email. Yours goes straight to the writer, who may publish it here with "
        "your name; your email address is never published.")
    more = doc.xpath("//main/nav[@class='more-essays']")[0]
    assert more.xpath(".//ul[@class='post-nav']/li/a")


def test_sample_essays_cover_what_the_browser_tests_check(sample: SampleBuild) -> None:
    """tests/browser runs axe on these essays; between them they must show every part."""
    docs = [page(sample.output, f"/posts/{s}/") for s in
            ("forty-minutes-in-the-pharmacy-queue", "the-agent-who-actually-read-my-ticket",
             "cafe-manners")]
    found = {
        "replies": any(d.xpath("//section[@id='replies']//article[@class='reply']") for d in docs),
        "related": any(d.xpath("//ul[@class='related']/li/a") for d in docs),
        "footnotes": any(by_class(d, "footnote") for d in docs),
        "table": any(d.xpath("//div[@class='post-content']//table") for d in docs),
        "code": any(d.xpath("//div[@class='post-content']//pre") for d in docs),
        "blockquote": any(d.xpath("//div[@class='post-content']//blockquote") for d in docs),
        "image": any(d.xpath("//div[@class='post-content']//img[@alt]") for d in docs),
        "avatar": any(d.xpath("//img[contains(@class, 'avatar')]") for d in docs),
    }
    assert [k for k, v in found.items() if not v] == []


def test_404_page_helps_the_reader_on(sample: SampleBuild) -> None:
    doc = page(sample.output, "/404.html")
    assert text(doc.xpath("//main//h1")[0]) == "Page not found"
    links = set(doc.xpath("//main//a/@href"))
    assert {"/", "/archive/", "/tags/", "/about/"} <= links
    assert {t.get("href") for t in doc.xpath("//main//ul[@class='tag-list']//a")} == {
        u for u in links if u.startswith("/tags/") and u != "/tags/"}
    assert doc.xpath("//meta[@name='robots']/@content") == ["noindex"]


def test_landmarks_skip_link_and_language_on_every_page(sample: SampleBuild) -> None:
    for rel, doc in html_pages(sample.output):
        if is_redirect(doc):
            continue
        assert doc.get("lang") == "en", rel
        assert len(doc.xpath("//main[@id='main']")) == 1, rel
        assert doc.xpath("//a[@class='skip-link']/@href") == ["#main"], rel
        assert doc.xpath("//body/header") and doc.xpath("//body/footer"), rel
        assert all(n.get("aria-label") for n in doc.xpath("//nav")), rel


# --- the README's theming examples, built as written ----------------------------------------

README_FILE = re.compile(r"^(?:\{#|/\*|<!--)\s*((?:templates|themes)/\S+?):?\s")


def readme_theming_files() -> dict[str, str]:
    """Code blocks of the README's Theming section whose first line names the file they are."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Theming\n", 1)[1].split("\n### ", 1)[0]
    files = {}
    for block in re.findall(r"^```\w*\n(.*?)^```", section, flags=re.S | re.M):
        named = README_FILE.match(block)
        if named:
            files[named.group(1)] = block
    return files


def test_readme_theming_examples_build_as_documented(site: Callable[..., Path],
                                                     build_site: Callable[..., Result]) -> None:
    files = readme_theming_files()
    assert sorted(files) == ["templates/post.html", "themes/quiet/static/css/quiet.css",
                             "themes/quiet/static/favicon.svg",
                             "themes/quiet/templates/base.html"]
    root = site('title = "T"\nbase_url = "https://example.org/"\ntheme = "quiet"\n'
                '[extra]\ntagline = "Be kind to the night shift."\n',
                {**files, "content/posts/2024-01-01-essay.md":
                    "---\ntitle: Essay\n---\nText of the essay.\n"})
    assert build_site(root).exit_code == 0
    out = root / "public"
    for url in ("/", "/posts/essay/", "/tags/", "/404.html"):
        doc = page(out, url)
        assert doc.xpath("//link[@rel='stylesheet']/@href") == [
            "/css/style.css", "/css/pygments.css", "/css/quiet.css"], url
        assert [text(f) for f in doc.xpath("//body/footer")] == ["Be kind to the night shift."]
    essay = page(out, "/posts/essay/")
    assert [text(p) for p in essay.xpath("//main//p[@class='note']")] == [
        "Thanks for reading. Be kind to the night shift."]
    assert essay.xpath("//main//h1/text()") == ["Essay"]  # super() kept the essay
    assert page(out, "/").xpath("//p[@class='note']") == []
    assert (out / "favicon.svg").read_text() == files["themes/quiet/static/favicon.svg"]
    assert (out / "css" / "quiet.css").is_file() and (out / "css" / "style.css").is_file()


@pytest.mark.parametrize("fmt, expected", [
    ("%-d %B %Y", "5 March 2024"),
    ("%a %d %b, %A", "Tue 05 Mar, Tuesday"),
    ("%-m/%-d %-H:%M %-I%p", "3/5 9:07 9AM"),
    ("%Y-%m-%d %H:%M %z", "2024-03-05 09:07 +0100"),
    ("100%% %B", "100% March"),
    ("no directives", "no directives"),
    ("", ""),
])
def test_date_filter_spells_names_in_english(fmt: str, expected: str) -> None:
    when = datetime(2024, 3, 5, 9, 7, tzinfo=timezone(timedelta(hours=1)))
    assert format_date(when, fmt) == expected
    assert format_date(when, fmt) == expected  # the second time from the cut-up format


def test_code_and_tables_take_keyboard_focus_wherever_they_are_shown(
        site: Callable[..., Path], build_site: Callable[..., Result]) -> None:
    # <pre> and <table> scroll sideways when too wide; csblog's HTML values carry tabindex="0"
    # themselves (the default theme prints them as they are), in essays, summaries, pages, replies
    code = "```python\nprint('x')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    root = site('title = "T"\nbase_url = "https://example.org/"\n', {
        "content/posts/2024-01-01-essay.md":
            f"---\ntitle: Essay\n---\nFirst.\n\n{code}\n<!-- more -->\n\nMore.\n\n"
            "<pre>raw</pre>\n\n<table><tr><td>raw</td></tr></table>\n",
        "content/pages/about.md": f"---\ntitle: About\n---\n{code}",
        "content/comments/essay/1.md": "---\nname: Ana\ndate: 2024-01-02\n---\n"
                                       "    indented code\n",
    })
    assert build_site(root).exit_code == 0
    out = root / "public"
    counts = {}
    for url in ("/", "/posts/essay/", "/about/", "/tags/", "/archive/"):
        doc = page(out, url)
        found = doc.xpath("//main//pre | //main//table")
        assert all(el.get("tabindex") == "0" for el in found), url
        counts[url] = len(found)
    # the summary's code and table on the home page; on the essay's page the summary, the raw
    # HTML and the reply's code
    assert counts == {"/": 2, "/posts/essay/": 5, "/about/": 2, "/tags/": 0, "/archive/": 0}
