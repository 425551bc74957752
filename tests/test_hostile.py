"""Hostile input never reaches a reader: titles, tags, names, summaries, descriptions and replies
full of markup are text in every page, attribute, JSON-LD block, feed and the sitemap; unsafe URLs
are refused; the "Reply by email" subject cannot add headers or parameters.

Everything is asserted on parsed output (lxml), never on substrings of HTML.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import lxml.html
import pytest
from helpers import RSS_NS, Result, html_pages, make_site, page, parse_xml, post

Runner = Callable[..., Result]

SCRIPT = "<script>alert(1)</script>"
CLOSE_SCRIPT = "</script><script>x()</script>"
IMG = '"><img src=x onerror=alert(1)>'
QUOTES = "it's \"quoted\" & 'single' `back`"
JS = "javascript:alert(1)"
HOSTILE = f"{SCRIPT} {CLOSE_SCRIPT} {IMG} {QUOTES} {JS} <!-- -->"

TITLE = f"Title {HOSTILE}"
TAGS = [f"tag {SCRIPT}", f"tag {IMG}", f"tag {CLOSE_SCRIPT}", JS, f"q {QUOTES}"]
AUTHOR_NAME = f"Eve {IMG} {CLOSE_SCRIPT}"
SUMMARY = f"Summary {HOSTILE}"
DESCRIPTION = f"Description {HOSTILE}"
REPLY_NAME = f"Mallory {SCRIPT} {IMG}"
REPLY_BODY = f"""Reply text {HOSTILE}

<script>alert(2)</script>

<img src=x onerror=alert(3)>

<a href="javascript:alert(4)">raw link</a>

[markdown link](javascript:alert(5)) and [upper](JaVaScRiPt:alert(6))
and [spaced]( javascript:alert(7)) and [entity](java&#x09;script:alert(8))
and ![image](javascript:alert(9)) and <javascript:alert(10)>
and [data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxMSk8L3NjcmlwdD4=)
and [vb](vbscript:msgbox(12)) and [ref][evil] and [good](https://example.org/ok)

[evil]: javascript:alert(13)
"""
SITE_TITLE = f"Site {SCRIPT} {IMG}"

UNSAFE_ATTRS = ("href", "src", "action", "formaction", "data", "poster", "xlink:href",
                "srcset", "background", "content")


def _toml(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from csblog.build import build

    root = tmp_path_factory.mktemp("hostile") / "site"
    config = (f"title = {_toml(SITE_TITLE)}\ndescription = {_toml(DESCRIPTION)}\n"
              'base_url = "https://example.org/"\nemail = "replies@example.org"\n'
              'author = "eve"\n')
    make_site(root, config, {
        "content/posts/2024-03-05-hostile.md": post(
            TITLE, f"Body text.\n\n{'More words. ' * 30}", tags=TAGS, summary=SUMMARY,
            description=DESCRIPTION, author="eve", slug="hostile"),
        "content/posts/2024-03-04-plain.md": post("Plain", tags=TAGS[:2], author="eve"),
        "content/pages/about.md": post(f"About {HOSTILE}", description=DESCRIPTION),
        "content/authors/eve.md": "---\n" + f"name: {json.dumps(AUTHOR_NAME)}\n"
                                  "url: https://eve.example.org/\nemail: eve@example.org\n"
                                  "---\nA bio (the writer's own Markdown, like an essay).\n",
        "content/comments/hostile/2024-03-06-mallory.md": "---\n"
            f"name: {json.dumps(REPLY_NAME)}\ndate: 2024-03-06\n"
            "url: https://mallory.example.org/?a=1&b=2\n---\n" + REPLY_BODY,
    })
    build(root)
    return root / "public"


def _unsafe_url(value: str) -> bool:
    """True for a javascript:, vbscript: or data: URL, however it is disguised."""
    squeezed = re.sub(r"[\x00-\x20]", "", value).lower()
    return squeezed.startswith(("javascript:", "vbscript:", "data:"))


def _assert_no_injection(doc: lxml.html.HtmlElement, where: str) -> None:
    scripts = doc.xpath("//script")
    for script in scripts:
        assert script.get("type") == "application/ld+json", f"{where}: a script element"
    assert len(scripts) <= 1, where
    for element in doc.iter():
        if not isinstance(element.tag, str):
            continue
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), f"{where}: <{element.tag} {name}=...>"
            if name.lower() in UNSAFE_ATTRS and name.lower() != "content":
                assert not _unsafe_url(value), f"{where}: <{element.tag} {name}={value!r}>"
    assert not doc.xpath("//img[@src='x']"), f"{where}: an injected img"
    assert not doc.xpath("//iframe | //object | //embed | //form | //base"), where
    # a meta refresh may only come from a redirect page, to this site
    for meta in doc.xpath("//meta[@http-equiv]"):
        assert "example.org" in meta.get("content", ""), where


def test_no_page_has_injected_markup(hostile_site: Path) -> None:
    count = 0
    for rel, doc in html_pages(hostile_site):
        _assert_no_injection(doc, rel)
        count += 1
    assert count > 10


def test_hostile_text_is_text_on_the_post_page(hostile_site: Path) -> None:
    doc = page(hostile_site, "/posts/hostile/")
    (h1,) = doc.xpath("//main//h1")
    assert h1.text_content() == TITLE
    assert doc.xpath("string(//title)").startswith(TITLE)
    assert doc.xpath("//meta[@property='og:title']/@content") == [TITLE]
    assert doc.xpath("//meta[@name='description']/@content") == [DESCRIPTION]
    assert doc.xpath("//meta[@property='og:site_name']/@content") == [SITE_TITLE]
    tag_texts = {t.strip() for t in doc.xpath("//main//a[contains(@href, '/tags/')]/text()")}
    assert set(TAGS) <= tag_texts, tag_texts
    assert AUTHOR_NAME in {a.text_content().strip()
                           for a in doc.xpath("//main//a[contains(@href, '/authors/eve/')]")}
    reply = doc.xpath("//article[@id='reply-1']")[0]
    assert reply.xpath("string(.//h3)").strip() == REPLY_NAME
    # raw HTML in the reply is shown as text
    content = reply.xpath(".//*[contains(@class, 'reply-content')]")[0]
    text = content.text_content()
    assert "<script>alert(2)</script>" in text
    assert "<img src=x onerror=alert(3)>" in text
    assert not content.xpath(".//script | .//img")


def test_reply_links_are_only_http_and_mailto(hostile_site: Path) -> None:
    doc = page(hostile_site, "/posts/hostile/")
    reply = doc.xpath("//article[@id='reply-1']")[0]
    content = reply.xpath(".//*[contains(@class, 'reply-content')]")[0]
    hrefs = content.xpath(".//@href | .//@src")
    assert hrefs == ["https://example.org/ok"], hrefs
    (website,) = reply.xpath(".//h3//a/@href")
    assert website == "https://mallory.example.org/?a=1&b=2"


def test_summary_is_text_on_listings(hostile_site: Path) -> None:
    home = page(hostile_site, "/")
    texts = [" ".join(e.text_content().split()) for e in home.xpath("//main//p")]
    assert " ".join(SUMMARY.split()) in texts, texts


def test_json_ld_round_trips_the_title(hostile_site: Path) -> None:
    doc = page(hostile_site, "/posts/hostile/")
    (script,) = doc.xpath("//script[@type='application/ld+json']")
    data = json.loads(script.text)
    assert data["headline"] == TITLE
    assert data["description"] == DESCRIPTION
    assert set(data["keywords"]) == set(TAGS)
    assert [a["name"] for a in data["author"]] == [AUTHOR_NAME]
    assert data["publisher"]["name"] == SITE_TITLE
    # the element's text is all of the JSON: nothing closed it early
    assert script.getnext() is None or script.getnext().tag != "script"


def test_page_and_author_pages(hostile_site: Path) -> None:
    about = page(hostile_site, "/about/")
    assert about.xpath("//main//h1")[0].text_content() == f"About {HOSTILE}"
    author = page(hostile_site, "/authors/eve/")
    assert AUTHOR_NAME in [h.text_content().strip() for h in author.xpath("//main//h1")]
    authors = page(hostile_site, "/authors/")
    assert AUTHOR_NAME in [a.text_content().strip() for a in authors.xpath("//main//a")]
    for url in ("/tags/", "/archive/"):
        texts = [a.text_content().strip() for a in page(hostile_site, url).xpath("//main//a")]
        assert (set(TAGS) if url == "/tags/" else {TITLE}) <= set(texts), texts


def _fragment_ok(html_text: str | None, where: str) -> None:
    if not html_text or not html_text.strip():
        return
    root = lxml.html.fragment_fromstring(html_text, create_parent="div")
    wrapper = lxml.html.fromstring("<html><body></body></html>")
    wrapper.body.append(root)
    _assert_no_injection(wrapper, where)


def test_rss_feeds(hostile_site: Path) -> None:
    feeds = [hostile_site / "feed.xml", *sorted((hostile_site / "tags").glob("*/feed.xml"))]
    assert len(feeds) > 1
    for path in feeds:
        root = parse_xml(path)
        for item in root.iter("item"):
            title = item.findtext("title")
            assert title in (TITLE, "Plain")
            if title == TITLE:
                assert {c.text for c in item.findall("category")} == set(TAGS)
                assert [c.text for c in item.findall("dc:creator", RSS_NS)] == [AUTHOR_NAME]
                description = item.findtext("description")
                root_html = lxml.html.fragment_fromstring(description, create_parent="div")
                assert " ".join(root_html.text_content().split()) == " ".join(SUMMARY.split())
            _fragment_ok(item.findtext("description"), f"{path.name} description")
            _fragment_ok(item.findtext("content:encoded", namespaces=RSS_NS), path.name)
        assert root.findtext("channel/title", "").startswith(SITE_TITLE)


def test_atom_feed(hostile_site: Path) -> None:
    root = parse_xml(hostile_site / "atom.xml")
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert root.findtext("a:title", namespaces=ns) == SITE_TITLE
    titles = []
    for entry in root.findall("a:entry", ns):
        title = entry.find("a:title", ns)
        assert title is not None
        if title.get("type") == "html":  # the text is HTML: its text content is the title
            fragment = lxml.html.fragment_fromstring(title.text, create_parent="div")
            assert not len(fragment), "markup inside the Atom title"
            titles.append(fragment.text_content())
        else:
            titles.append(title.text)
        names = [n.text for n in entry.findall("a:author/a:name", ns)]
        assert names == [AUTHOR_NAME]
        terms = {c.get("term") for c in entry.findall("a:category", ns)}
        assert terms <= set(TAGS)
        for kind in ("a:summary", "a:content"):
            _fragment_ok(entry.findtext(kind, namespaces=ns), f"atom {kind}")
    assert TITLE in titles


def test_sitemap_has_only_site_urls(hostile_site: Path) -> None:
    root = parse_xml(hostile_site / "sitemap.xml")
    locs = [e.text for e in root.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert locs and all(loc and re.fullmatch(r"https://example\.org/[a-z0-9/._-]*", loc)
                        for loc in locs), locs


# --- unsafe URLs are refused ------------------------------------------------------------------

BAD_URLS = ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)",
            "java\tscript:alert(1)", "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)", "//evil.example/x", 'https://x.example/" onmouseover="y']


@pytest.mark.parametrize("url", BAD_URLS)
def test_reply_url_is_refused(url: str, tmp_path: Path, build_site: Runner) -> None:
    root = make_site(tmp_path / "site", 'base_url = "https://example.org/"\n', {
        "content/posts/2024-01-01-a.md": post("A"),
        "content/comments/a/r.md": "---\n" + f"name: R\ndate: 2024-01-02\nurl: {json.dumps(url)}\n"
                                   "---\nHi.\n",
    })
    result = build_site(root)
    assert result.exit_code == 1, result.stderr
    assert re.search(r"content/comments/a/r\.md:4: 'url'", result.stderr), result.stderr


@pytest.mark.parametrize("url", BAD_URLS)
def test_author_url_is_refused(url: str, tmp_path: Path, build_site: Runner) -> None:
    root = make_site(tmp_path / "site", 'base_url = "https://example.org/"\n', {
        "content/posts/2024-01-01-a.md": post("A", author="eve"),
        "content/authors/eve.md": f"---\nname: Eve\nurl: {json.dumps(url)}\n---\n",
    })
    result = build_site(root)
    assert result.exit_code == 1, result.stderr
    assert re.search(r"content/authors/eve\.md:3: 'url'", result.stderr), result.stderr


@pytest.mark.parametrize("url", [u for u in BAD_URLS if u != "//evil.example/x"])
@pytest.mark.parametrize("where", ["post", "page", "avatar"])
def test_image_urls_are_refused(url: str, where: str, tmp_path: Path,
                                build_site: Runner) -> None:
    files = {"content/posts/2024-01-01-a.md": post("A", author="eve"),
             "content/authors/eve.md": "---\nname: Eve\n---\n"}
    if where == "post":
        files["content/posts/2024-01-01-a.md"] = post("A", image=url)
        source = "content/posts/2024-01-01-a.md"
    elif where == "page":
        files["content/pages/p.md"] = post("P", image=url)
        source = "content/pages/p.md"
    else:
        files["content/authors/eve.md"] = f"---\nname: Eve\navatar: {json.dumps(url)}\n---\n"
        source = "content/authors/eve.md"
    root = make_site(tmp_path / "site", 'base_url = "https://example.org/"\n', files)
    result = build_site(root)
    assert result.exit_code == 1, result.stderr
    assert source in result.stderr and "expected an http(s) URL" in result.stderr, result.stderr


# --- the mailto link --------------------------------------------------------------------------

MAIL_TITLES = [
    "Line\r\nBcc: victim@example.org",
    "Only\nLF",
    "Only\rCR",
    "Fish & chips&body=injected",
    "Why? ?subject=other",
    "100% sure %0D%0ABcc:x@example.org",
    "Hash # fragment #body=x",
    "Plus + equals = semicolon ; comma ,",
    "Café «quotes» 😀",
]


@pytest.mark.parametrize("title", MAIL_TITLES)
def test_mailto_subject_cannot_inject(title: str, tmp_path: Path, build_site: Runner) -> None:
    root = make_site(tmp_path / "site", 'base_url = "https://example.org/"\n'
                     'email = "replies+blog@example.org"\n',
                     {"content/posts/2024-03-05-mail.md": post(title, slug="mail")})
    result = build_site(root)
    assert result.exit_code == 0, result.stderr
    doc = page(root / "public", "/posts/mail/")
    hrefs = [str(h) for h in doc.xpath("//a[starts-with(@href, 'mailto:')]/@href")]
    assert hrefs, "no mailto link"
    for href in hrefs:
        assert not re.search(r"[\x00-\x20\x7f]", href), repr(href)
        parts = urlsplit(href)
        assert parts.scheme == "mailto" and parts.fragment == ""
        assert unquote(parts.path) == "replies+blog@example.org"
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=True)
        assert list(query) == ["subject"], query
        assert query["subject"] == [f"Re: {title.strip()} [2024-03-05-mail]"], query
        # parse_qs reads '+' as a space; RFC 6068 does not: none may be left unencoded
        assert "+" not in parts.query


def test_control_characters_keep_feeds_well_formed(tmp_path: Path, build_site: Runner) -> None:
    # pasted from a word processor: form feed, vertical tab, escape, a stray NUL
    title = "Pasted\x0c title\x0b with\x1b controls\x00"
    root = make_site(tmp_path / "site", 'base_url = "https://example.org/"\n', {
        "content/posts/2024-03-05-pasted.md": post(title, "Body\x0c text.", tags=["t\x01"],
                                                    slug="pasted")})
    result = build_site(root)
    assert result.exit_code == 0, result.stderr
    output = root / "public"
    for feed in ("feed.xml", "atom.xml", "sitemap.xml", "tags/t/feed.xml"):
        parse_xml(output / feed)  # raises on a character XML forbids
    (item,) = parse_xml(output / "feed.xml").iter("item")
    assert item.findtext("title") == "Pasted title with controls"


@pytest.mark.parametrize("address", ["a?bcc=victim@example.org", "a&cc=x@example.org",
                                     "a%0D%0Abcc:x@example.org", "a#frag@example.org",
                                     "a+b@example.org"])
def test_mailto_address_cannot_inject(address: str, tmp_path: Path, build_site: Runner) -> None:
    root = make_site(tmp_path / "site", 'base_url = "https://example.org/"\n',
                     {"content/posts/2024-03-05-mail.md": post("Mail", slug="mail",
                                                               reply_to=address)})
    result = build_site(root)
    if result.exit_code == 1:  # refused as an address: fine, if it names the key
        assert "'reply_to'" in result.stderr, result.stderr
        return
    assert result.exit_code == 0, result.stderr
    doc = page(root / "public", "/posts/mail/")
    (href,) = {str(h) for h in doc.xpath("//a[starts-with(@href, 'mailto:')]/@href")}
    parts = urlsplit(href)
    assert parts.fragment == "" and unquote(parts.path) == address
    assert list(parse_qs(parts.query, strict_parsing=True)) == ["subject"]
