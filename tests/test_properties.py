"""Property-based tests (hypothesis): whatever a writer types, csblog builds or says what is
wrong (a CsblogError), never crashes; slugs are always safe; text never becomes markup.

Builds run in-process with the library's `build`, in one site folder per test that each example
rewrites (hypothesis does not reset function-scoped fixtures between examples).
"""

from __future__ import annotations

import json
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lxml.etree
import lxml.html
import pytest
import yaml
from helpers import make_site, page
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csblog.build import build
from csblog.errors import CsblogError
from csblog.posts import ContentSettings, plain_author
from csblog.urls import slugify

BASIC = 'title = "Props"\nbase_url = "https://example.org/"\n'
POST = "content/posts/2024-01-01-x.md"
BUILDS = settings(max_examples=50, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="csblog-props-") as name:
        yield Path(name)


def _fresh_site(workdir: Path, name: str, config: str = BASIC) -> Path:
    root = workdir / name
    if not root.exists():
        make_site(root, config, {"content/posts/2023-12-31-other.md":
                                 "---\ntitle: Another essay\ntags: [plain]\n---\nWords.\n"})
    return root


def build_or_error(root: Path, source: str) -> bool:
    """Write the post and build. True if it built; False if csblog said what is wrong.
    Anything else (an exception that is not a CsblogError) fails the test."""
    path = root / POST
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8", newline="")
    try:
        build(root)
    except CsblogError as exc:
        assert exc.exit_code == 1
        assert exc.problems and all(p.message.strip() for p in exc.problems)
        return False
    for feed in ("feed.xml", "atom.xml", "sitemap.xml"):  # always well-formed XML
        lxml.etree.fromstring((root / "public" / feed).read_bytes())
    return True


# --- arbitrary front matter and Markdown -----------------------------------------------------

KNOWN_KEYS = ["title", "date", "updated", "tags", "author", "authors", "summary", "description",
              "slug", "draft", "comments", "reply_to", "image", "aliases", "url", "weight"]

scalars = (st.none() | st.booleans() | st.integers() | st.floats()
           | st.text(max_size=30) | st.dates() | st.datetimes()
           | st.sampled_from(["2024-02-30", "03/04/2024", "2024-03-05 25:00", "../../x",
                              "/abs", "C:\\x", "javascript:alert(1)", "<b>x</b>", "", " "]))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8)
front_matter = st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(min_size=1, max_size=12),
                               values, max_size=8)

MARKDOWN_BITS = ["# ", "## ", "> ", "- ", "1. ", "* ", "*", "_", "**", "`", "```", "~~~", "[",
                 "]", "(", ")", "<", ">", "!", "|", " | ", "---", "\n", "\n\n", "    ", "\t",
                 "<!-- more -->", "[^1]", "\n[^1]: note", "\n*[HTML]: x", "{: #id .cls }",
                 '<div markdown="1">', "</div>", "&amp;", "&#0;", "&#x110000;", ":", "word ",
                 "x", "[a](b.md)", "![i](img.png)", "[l](../pages/p.md#h)", "\\", "\r\n",
                 "<script>", "\x00", "\ufeff", "é", "𝔘", "\u202e"]
markdown_text = st.lists(st.sampled_from(MARKDOWN_BITS) | st.text(max_size=6),
                         max_size=40).map("".join) | st.text(max_size=200)


@BUILDS
@given(meta=front_matter, body=markdown_text)
def test_arbitrary_front_matter_and_markdown(workdir: Path, meta: dict[str, Any],
                                             body: str) -> None:
    root = _fresh_site(workdir, "fm")
    text = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
    build_or_error(root, f"---\n{text}---\n{body}\n")


@BUILDS
@given(raw=st.text(max_size=200), body=markdown_text)
def test_arbitrary_text_between_the_fences(workdir: Path, raw: str, body: str) -> None:
    root = _fresh_site(workdir, "raw")
    build_or_error(root, f"---\n{raw}\n---\n{body}\n")


@BUILDS
@given(source=st.text(max_size=300) | markdown_text)
def test_arbitrary_file(workdir: Path, source: str) -> None:
    root = _fresh_site(workdir, "file")
    build_or_error(root, source)


@BUILDS
@given(meta=front_matter, body=markdown_text)
def test_arbitrary_reply(workdir: Path, meta: dict[str, Any], body: str) -> None:
    root = _fresh_site(workdir, "reply")
    (root / POST).parent.mkdir(parents=True, exist_ok=True)
    (root / POST).write_text("---\ntitle: X\n---\nText.\n", encoding="utf-8")
    reply = root / "content/comments/x/r.md"
    reply.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump({"name": "R", "date": "2024-01-02", **meta}, allow_unicode=True)
    reply.write_text(f"---\n{text}---\n{body}\n", encoding="utf-8", newline="")
    try:
        build(root)
    except CsblogError as exc:
        assert exc.exit_code == 1 and exc.problems
        return
    doc = page(root / "public", "/posts/x/")
    assert [s.get("type") for s in doc.xpath("//script")] == ["application/ld+json"]
    for value in doc.xpath("//article[@id='reply-1']//@href | //article[@id='reply-1']//@src"):
        assert value.startswith(("http://", "https://", "mailto:", "#")), value


# --- slugs ----------------------------------------------------------------------------------

ASCII_SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
SETTINGS = ContentSettings(tz=__import__("zoneinfo").ZoneInfo("UTC"),
                           post_permalink="/posts/{slug}/", unicode_slugs=False, comments=True,
                           toc_min_headings=3, default_author="", base_path="/",
                           origin="https://example.org", now=datetime.now(UTC))


@settings(max_examples=300, deadline=None)
@given(text=st.text())
def test_slugs_are_safe(text: str) -> None:
    slug = slugify(text)
    assert slug == "" or ASCII_SLUG.fullmatch(slug), slug
    # where csblog uses a slug it falls back to a word, so a URL part is never empty
    author = plain_author(text, SETTINGS)
    assert ASCII_SLUG.fullmatch(author.id), author.id
    assert author.url == f"/authors/{author.id}/"
    unicode_slug = slugify(text, keep_unicode=True)
    assert unicode_slug == unicode_slug.strip("-")
    for char in unicode_slug:
        assert char not in "/\\.%?#:" and not char.isspace(), repr(unicode_slug)
        assert unicodedata.category(char)[0] != "C", repr(unicode_slug)
    unicode_author = plain_author(text, SETTINGS.__class__(**{**SETTINGS.__dict__,
                                                               "unicode_slugs": True}))
    assert unicode_author.id and "/" not in unicode_author.id


# --- text never becomes markup ----------------------------------------------------------------

def _shape(doc: lxml.html.HtmlElement) -> tuple[set[str], set[str]]:
    """The element tags and attribute names in a page."""
    tags: set[str] = set()
    attrs: set[str] = set()
    for element in doc.iter():
        if isinstance(element.tag, str):
            tags.add(element.tag)
            attrs.update(element.attrib.keys())
    return tags, attrs


def _post_source(text: str) -> str:
    meta = {"title": text, "tags": [text, "plain"], "author": text, "summary": text,
            "description": text}
    return "---\n" + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False) + \
        "---\nThe essay's own words.\n"


@pytest.fixture(scope="module")
def baseline(workdir: Path) -> tuple[set[str], set[str]]:
    root = _fresh_site(workdir, "baseline", BASIC + 'email = "r@example.org"\n')
    assert build_or_error(root, _post_source("Plain Title"))
    return _shape(page(root / "public", "/posts/x/"))


@BUILDS
@given(text=st.text(min_size=1, max_size=60)
       | st.lists(st.sampled_from(["<", ">", "\"", "'", "&", "</script>", "<script>", "<img ",
                                   "src=x ", "onerror=alert(1)", "javascript:", "-->", "<!--",
                                   "]]>", "{{", "}}", "{%", "\\", "\x00", "\x0c", "\u2028",
                                   "Title", " "]), min_size=1, max_size=12).map("".join))
def test_text_never_becomes_markup(workdir: Path, baseline: tuple[set[str], set[str]],
                                   text: str) -> None:
    root = _fresh_site(workdir, "inject", BASIC + 'email = "r@example.org"\n')
    if not build_or_error(root, _post_source(text)):
        return  # refused with a message (a title of only spaces, say)
    doc = page(root / "public", "/posts/x/")
    tags, attrs = _shape(doc)
    base_tags, base_attrs = baseline
    assert tags <= base_tags, f"new elements: {tags - base_tags}"
    assert attrs <= base_attrs, f"new attributes: {attrs - base_attrs}"
    scripts = doc.xpath("//script")
    assert [s.get("type") for s in scripts] == ["application/ld+json"]
    assert len(doc.xpath("//main//h1")) == 1
    for href in doc.xpath("//a/@href"):
        assert not re.sub(r"[\x00-\x20]", "", href).lower().startswith("javascript:")
    for link in doc.xpath("//a[contains(@href, '/tags/') or contains(@href, '/authors/')]/@href"):
        assert re.fullmatch(r"/(tags|authors)/([a-z0-9]+(-[a-z0-9]+)*/)?", link), link


# --- arbitrary settings -----------------------------------------------------------------------

CONFIG_KEYS = ["title", "description", "base_url", "language", "timezone", "author", "email",
               "posts_per_page", "theme", "output_dir", "comments", "unicode_slugs",
               "related_posts", "toc_min_headings", "date_format", "no_such_key"]
TABLE_KEYS = {"permalinks": ["posts"], "feed": ["full_content", "limit"],
              "markdown": ["extensions"], "extra": ["anything"]}
toml_scalars = (st.text(max_size=30).map(lambda t: json.dumps(t, ensure_ascii=False))
                | st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str)
                | st.booleans().map(lambda b: "true" if b else "false")
                | st.sampled_from(['"/posts/{slug}/"', '"/{year}/{month}/{slug}.html"',
                                   '"%Y %B %-d %%"', '"Europe/Lisbon"', '"Mars/Olympus"',
                                   '"https://example.org/blog/"', '"ftp://x"', '"public"',
                                   '["extra", "toc"]', '["no.such.extension"]', "0", "-1"]))
toml_values = toml_scalars | st.lists(toml_scalars, max_size=3).map(
    lambda items: "[" + ", ".join(items) + "]")


@BUILDS
@given(top=st.dictionaries(st.sampled_from(CONFIG_KEYS), toml_values, max_size=6),
       tables=st.dictionaries(st.sampled_from(sorted(TABLE_KEYS)), st.data(), max_size=2),
       )
def test_arbitrary_settings(workdir: Path, top: dict[str, str], tables: dict[str, Any]) -> None:
    lines = [f"{key} = {value}" for key, value in top.items() if key != "output_dir"]
    for table, data in tables.items():
        lines.append(f"[{table}]")
        keys = data.draw(st.lists(st.sampled_from(TABLE_KEYS[table]), unique=True, max_size=2))
        lines += [f"{key} = {data.draw(toml_values)}" for key in keys]
    root = _fresh_site(workdir, "settings")
    (root / "csblog.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    build_or_error(root, "---\ntitle: Essay\ntags: [a]\n---\nWords with a [link](#x).\n")
