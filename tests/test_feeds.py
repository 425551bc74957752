"""RSS 2.0, Atom and per-tag feeds, parsed with lxml.etree; the feed links in every page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import lxml.html
import pytest
from helpers import (
    ATOM_NS,
    RSS_NS,
    Result,
    SampleBuild,
    fragment_links,
    html_pages,
    is_redirect,
    page,
    parse_xml,
    post,
)
from hypothesis import given, settings
from hypothesis import strategies as st

SiteFactory = Callable[..., Path]
Builder = Callable[..., Result]

# RFC 822 as updated by RFC 1123/2822: "Tue, 05 Mar 2024 00:00:00 -0600"
RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$")


def is_absolute(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        return bool(parts.netloc)
    return parts.scheme == "mailto"


# --- the sample site's feeds -----------------------------------------------------------------

def test_rss_parses_and_lists_the_published_posts(sample: SampleBuild) -> None:
    rss = parse_xml(sample.output / "feed.xml")
    assert rss.tag == "rss" and rss.get("version") == "2.0"
    items = rss.xpath("/rss/channel/item")
    assert len(items) == min(20, len(sample.published))
    links = [i.findtext("link") for i in items]
    newest_first = sorted(sample.published, key=lambda p: p.day, reverse=True)
    assert links == ["https://example.org" + p.url for p in newest_first]
    assert [i.findtext("title") for i in items] == [p.title for p in newest_first]
    for item in items:
        guid = item.find("guid")
        assert guid is not None and guid.text == item.findtext("link")
    self_links = rss.xpath("/rss/channel/atom:link[@rel='self']/@href", namespaces=RSS_NS)
    assert self_links == ["https://example.org/feed.xml"]


def test_rss_dates_are_rfc822_on_the_post_day(sample: SampleBuild) -> None:
    rss = parse_xml(sample.output / "feed.xml")
    lisbon = ZoneInfo("Europe/Lisbon")
    by_url = {"https://example.org" + p.url: p for p in sample.published}
    for item in rss.xpath("/rss/channel/item"):
        pub = item.findtext("pubDate")
        assert RFC822.match(pub), pub
        when = parsedate_to_datetime(pub)
        assert when.utcoffset() == when.astimezone(lisbon).utcoffset()
        assert when.astimezone(lisbon).date().isoformat() == by_url[item.findtext("link")].day


def test_every_link_inside_feed_content_is_absolute(sample: SampleBuild) -> None:
    rss = parse_xml(sample.output / "feed.xml")
    contents = rss.xpath("//item/content:encoded/text() | //item/description/text()",
                         namespaces=RSS_NS)
    atom = parse_xml(sample.output / "atom.xml")
    contents += atom.xpath("//a:entry/a:content/text() | //a:entry/a:summary/text()",
                           namespaces=ATOM_NS)
    links = [link for html in contents for link in fragment_links(html)]
    assert len(links) > 10  # footnotes, the cross-links, the image
    assert [link for link in links if not is_absolute(link)] == []
    assert "https://example.org/posts/images/counter.svg" in links
    assert "https://example.org/about/" in links


def test_full_content_is_in_the_feeds(sample: SampleBuild) -> None:
    rss = parse_xml(sample.output / "feed.xml")
    item = rss.xpath("//item[link='https://example.org/posts/the-rude-counter/']")[0]
    content = lxml.html.fragment_fromstring(
        item.findtext("content:encoded", namespaces=RSS_NS), create_parent="div")
    headings = [" ".join(h.text_content().split()) for h in content.xpath(".//h2")]
    assert "What I didn't see" in " ".join(headings).replace("\u2019", "'")


def test_atom_feed_has_ids_dates_and_self_link(sample: SampleBuild) -> None:
    atom = parse_xml(sample.output / "atom.xml")
    assert atom.tag == "{http://www.w3.org/2005/Atom}feed"
    assert atom.findtext("a:id", namespaces=ATOM_NS)
    updated = atom.findtext("a:updated", namespaces=ATOM_NS)
    assert RFC3339.match(updated)
    assert atom.xpath("a:link[@rel='self']/@href", namespaces=ATOM_NS) == [
        "https://example.org/atom.xml"]
    entries = atom.xpath("a:entry", namespaces=ATOM_NS)
    assert len(entries) == min(20, len(sample.published))
    ids = [e.findtext("a:id", namespaces=ATOM_NS) for e in entries]
    assert all(ids) and len(set(ids)) == len(ids)
    entry_updates = []
    for entry in entries:
        stamp = entry.findtext("a:updated", namespaces=ATOM_NS)
        assert RFC3339.match(stamp), stamp
        entry_updates.append(datetime.fromisoformat(stamp))
        href = entry.xpath("a:link[@rel='alternate']/@href", namespaces=ATOM_NS)
        assert len(href) == 1 and href[0].startswith("https://example.org/posts/")
    # the feed is as new as its newest entry
    assert datetime.fromisoformat(updated) == max(entry_updates)


def test_tag_feeds_contain_exactly_that_tags_posts(sample: SampleBuild) -> None:
    tags = {t for p in sample.published for t in p.tags}
    for tag in tags:
        rss = parse_xml(sample.output / "tags" / tag / "feed.xml")
        links = rss.xpath("//item/link/text()")
        assert sorted(links) == sorted(
            "https://example.org" + p.url for p in sample.published if tag in p.tags), tag


def test_every_page_links_to_the_rss_feed(sample: SampleBuild) -> None:
    checked = 0
    for rel, doc in html_pages(sample.output):
        if is_redirect(doc):
            continue  # an instant redirect has no reader to offer a feed to
        feeds = doc.xpath("//head/link[@rel='alternate' and @type='application/rss+xml']/@href")
        assert "/feed.xml" in feeds, rel
        checked += 1
    assert checked > 25


def test_tag_pages_link_to_their_own_feed(sample: SampleBuild) -> None:
    doc = page(sample.output, "/tags/retail/")
    feeds = doc.xpath("//head/link[@rel='alternate' and @type='application/rss+xml']/@href")
    assert "/tags/retail/feed.xml" in feeds


# --- purpose-made sites ----------------------------------------------------------------------

@pytest.mark.parametrize(("limit", "posts", "expected"), [(3, 5, 3), (10, 4, 4), (0, 6, 6)])
def test_feed_limit(site: SiteFactory, build_site: Builder, limit: int, posts: int,
                    expected: int) -> None:
    files = {f"content/posts/2024-01-{d:02d}-p{d}.md": post(f"P{d}", tags=["t"])
             for d in range(1, posts + 1)}
    root = site(f'base_url = "https://example.org/"\n[feed]\nlimit = {limit}\n', files)
    assert build_site(root).exit_code == 0
    rss = parse_xml(root / "public" / "feed.xml")
    atom = parse_xml(root / "public" / "atom.xml")
    tag = parse_xml(root / "public" / "tags" / "t" / "feed.xml")
    assert len(rss.xpath("//item")) == expected
    assert len(atom.xpath("a:entry", namespaces=ATOM_NS)) == expected
    assert len(tag.xpath("//item")) == expected
    # the newest posts are the ones kept
    assert rss.xpath("//item[1]/link/text()") == [f"https://example.org/posts/p{posts}/"]


def test_summary_only_feeds(site: SiteFactory, build_site: Builder) -> None:
    body = "The opening paragraph.\n\nThe second paragraph, [with a link](/x/).\n"
    root = site('base_url = "https://example.org/"\n[feed]\nfull_content = false\n',
                {"content/posts/2024-01-01-p.md": post("P", body)})
    assert build_site(root).exit_code == 0
    rss = parse_xml(root / "public" / "feed.xml")
    assert rss.xpath("//content:encoded", namespaces=RSS_NS) == []
    description = rss.xpath("//item/description/text()")[0]
    text = lxml.html.fragment_fromstring(description, create_parent="div").text_content()
    assert text.strip() == "The opening paragraph."
    atom = parse_xml(root / "public" / "atom.xml")
    assert atom.xpath("//a:content", namespaces=ATOM_NS) == []
    summary = atom.xpath("//a:summary/text()", namespaces=ATOM_NS)[0]
    assert "second paragraph" not in summary


def test_chicago_bare_date_is_the_fifth_in_feeds(site: SiteFactory, build_site: Builder) -> None:
    root = site('base_url = "https://example.org/"\ntimezone = "America/Chicago"\n', {
        "content/posts/bare.md": "---\ntitle: Bare\ndate: 2024-03-05\n---\n\nText.\n",
        "content/posts/late.md": post("Late", date="2024-03-05 23:30"),
    })
    assert build_site(root).exit_code == 0
    rss = parse_xml(root / "public" / "feed.xml")
    pubs = rss.xpath("//item/pubDate/text()")
    assert len(pubs) == 2
    for pub in pubs:
        assert RFC822.match(pub) and " 05 Mar 2024 " in pub and pub.endswith("-0600"), pub
        when = parsedate_to_datetime(pub)
        assert when.astimezone(ZoneInfo("America/Chicago")).date() == date(2024, 3, 5)
    atom = parse_xml(root / "public" / "atom.xml")
    for stamp in atom.xpath("//a:entry/a:published/text()", namespaces=ATOM_NS):
        assert stamp.startswith("2024-03-05T") and stamp.endswith("-06:00"), stamp


def test_titles_with_markup_characters_survive(site: SiteFactory, build_site: Builder) -> None:
    title = "Tea & <biscuits> \"now\""
    root = site('base_url = "https://example.org/"\n',
                {"content/posts/2024-01-01-tea.md": post(title)})
    assert build_site(root).exit_code == 0
    rss = parse_xml(root / "public" / "feed.xml")
    assert rss.xpath("//item/title/text()") == [title]
    atom = parse_xml(root / "public" / "atom.xml")
    entry_title = atom.xpath("//a:entry/a:title", namespaces=ATOM_NS)[0]
    assert entry_title.get("type") == "html"
    assert lxml.html.fragment_fromstring(entry_title.text, create_parent="div") \
        .text_content() == title


@pytest.mark.parametrize("full_content", ["true", "false"])
def test_links_in_summaries_are_absolute_too(site: SiteFactory, build_site: Builder,
                                             full_content: str) -> None:
    body = ("See [about](../pages/about.md), [a note](#note), [tags](/tags/) and "
            "![pic](images/pic.svg).\n\nMore text.\n")
    root = site(f'base_url = "https://example.org/blog/"\n[feed]\nfull_content = {full_content}\n',
                {"content/posts/2024-01-01-p.md": post("P", body, tags=["t"]),
                 "content/posts/images/pic.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
                 "content/pages/about.md": post("About")})
    assert build_site(root).exit_code == 0
    output = root / "public"
    texts = []
    for feed in (output / "feed.xml", output / "tags" / "t" / "feed.xml"):
        texts += parse_xml(feed).xpath("//item/description/text() | //item/content:encoded/text()",
                                       namespaces=RSS_NS)
    texts += parse_xml(output / "atom.xml").xpath(
        "//a:entry/a:summary/text() | //a:entry/a:content/text()", namespaces=ATOM_NS)
    links = [link for text in texts for link in fragment_links(text)]
    assert set(links) == {"https://example.org/blog/about/",
                          "https://example.org/blog/posts/p/#note",
                          "https://example.org/blog/tags/",
                          "https://example.org/blog/posts/images/pic.svg"}


# --- csblog's own escaping and dates, against the standard library's ------------------------

@given(st.text())
@settings(max_examples=300, deadline=None)
def test_escaping_is_the_standard_librarys_without_its_imports(text: str) -> None:
    """csblog.feeds writes these itself (importing xml.sax.saxutils costs every build 20 ms)."""
    from xml.sax.saxutils import escape as sax_escape
    from xml.sax.saxutils import quoteattr as sax_quoteattr

    from csblog.feeds import _NOT_XML, escape, quoteattr

    clean = _NOT_XML.sub("", text)
    assert escape(text) == sax_escape(clean)
    assert quoteattr(text) == sax_quoteattr(clean)


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31),
                    timezones=st.sampled_from([ZoneInfo("UTC"), ZoneInfo("Asia/Kolkata"),
                                               ZoneInfo("America/St_Johns")])))
@settings(max_examples=300, deadline=None)
def test_feed_dates_are_the_standard_librarys(when: datetime) -> None:
    from email.utils import format_datetime as stdlib_format

    from csblog.feeds import format_datetime

    assert format_datetime(when) == stdlib_format(when)
