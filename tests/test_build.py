"""Whole builds: the sample site, purpose-made sites, and what ends up in the output folder."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

import lxml.html
import pytest
from helpers import (
    Result,
    SampleBuild,
    html_pages,
    is_redirect,
    mailto_reply,
    output_file,
    page,
    pager_links,
    parse_xml,
    post,
    post_links,
    url_of,
    walk_listing,
)

from csblog.build import BuildOptions, build

SiteFactory = Callable[..., Path]
Builder = Callable[..., Result]

BASIC = """\
title = "Test site"
base_url = "https://example.org/"
email = "site@example.org"
"""


def text_of(element: lxml.html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


# --- the sample site: posts ------------------------------------------------------------------

def test_sample_front_matter_oracle_is_not_empty(sample: SampleBuild) -> None:
    assert len(sample.published) == 8
    assert [p.slug for p in sample.posts if p.draft] == ["what-the-script-cannot-say"]
    assert [p.slug for p in sample.posts if p.future] == ["a-letter-to-the-next-shift"]


def test_every_published_post_has_its_title_date_tags_and_authors(sample: SampleBuild) -> None:
    for src in sample.published:
        doc = page(sample.output, src.url)
        assert [text_of(h) for h in doc.xpath("//main//h1")] == [src.title], src.source
        header = doc.xpath("//main//h1/ancestor::header[1]")[0]
        dates = header.xpath(".//time/@datetime")
        assert dates and dates[0].startswith(src.day + "T"), (src.source, dates)
        tag_hrefs = {h for h in header.xpath(".//a/@href") if h.startswith("/tags/")}
        assert tag_hrefs == {f"/tags/{t}/" for t in src.tags}, src.source
        author_hrefs = {h for h in header.xpath(".//a/@href") if h.startswith("/authors/")}
        assert author_hrefs == {f"/authors/{a}/" for a in src.authors}, src.source


def test_post_author_names_come_from_author_profiles(sample: SampleBuild) -> None:
    doc = page(sample.output, "/posts/colleagues-are-customers-too/")
    header = doc.xpath("//main//h1/ancestor::header[1]")[0]
    names = [text_of(a) for a in header.xpath(".//a[starts-with(@href, '/authors/')]")]
    assert names == ["Priya Raman", "Tomas Novak"]


def test_draft_and_future_posts_are_left_out_by_default(sample: SampleBuild) -> None:
    for src in sample.posts:
        if src.draft or src.future:
            assert not output_file(sample.output, src.url).exists(), src.source
            home_links = post_links(page(sample.output, "/"))
            assert src.url not in home_links
    assert sample.report.left_out.drafts == 1
    assert sample.report.left_out.future == 1


def test_drafts_flag_publishes_the_draft_only(sample: SampleBuild) -> None:
    for src in sample.posts:
        exists = output_file(sample.drafts_output, src.url).is_file()
        assert exists == (not src.future), src.source
    draft = next(p for p in sample.posts if p.draft)
    doc = page(sample.drafts_output, draft.url)
    assert [text_of(h) for h in doc.xpath("//main//h1")] == [draft.title]


def test_future_flag_publishes_the_future_post_only(sample: SampleBuild) -> None:
    for src in sample.posts:
        exists = output_file(sample.future_output, src.url).is_file()
        assert exists == (not src.draft), src.source
    future = next(p for p in sample.posts if p.future)
    doc = page(sample.future_output, future.url)
    dates = doc.xpath("//main//h1/ancestor::header[1]//time/@datetime")
    assert dates[0].startswith(future.day + "T")


def test_alias_redirects_to_the_post(sample: SampleBuild) -> None:
    src = next(p for p in sample.published if p.aliases)
    for alias in src.aliases:
        doc = page(sample.output, alias)
        target = "https://example.org" + src.url
        assert is_redirect(doc)
        refresh = doc.xpath("//meta[@http-equiv='refresh']/@content")[0]
        delay, _, url = refresh.partition(";")
        assert delay.strip() == "0"
        assert url.strip().removeprefix("url=") == target
        assert doc.xpath("//link[@rel='canonical']/@href") == [target]


def test_image_beside_the_essay_is_copied_and_linked(sample: SampleBuild) -> None:
    source = sample.site / "content" / "posts" / "images" / "counter.svg"
    doc = page(sample.output, "/posts/cafe-manners/")
    srcs = doc.xpath("//main//img[contains(@src, 'counter.svg')]/@src")
    assert srcs == ["/posts/images/counter.svg"]
    assert output_file(sample.output, srcs[0]).read_bytes() == source.read_bytes()


def test_links_between_sources_resolve_to_output_urls(sample: SampleBuild) -> None:
    colleagues = page(sample.output, "/posts/colleagues-are-customers-too/")
    waiter = colleagues.xpath("//main//a[normalize-space()='the waiter essay']/@href")
    assert waiter == ["/posts/the-waiter-who-kept-the-glasses-full/"]
    counter = page(sample.output, "/posts/the-rude-counter/")
    about = counter.xpath("//main//a[normalize-space()='about this site']/@href")
    assert about == ["/about/"]
    for url in waiter + about:
        assert output_file(sample.output, url).is_file()


@pytest.mark.parametrize("which", ["output", "drafts_output", "future_output"])
def test_no_internal_link_is_broken(sample: SampleBuild, which: str) -> None:
    output: Path = getattr(sample, which)
    broken = []
    for rel, doc in html_pages(output):
        for value in doc.xpath("//@href | //@src"):
            parts = urlsplit(value)
            if parts.scheme or parts.netloc or not parts.path:
                continue
            if not output_file(output, unquote(parts.path)).is_file():
                broken.append((rel, value))
    assert broken == []


def test_fragment_links_point_at_ids_on_the_page(sample: SampleBuild) -> None:
    missing = []
    for rel, doc in html_pages(sample.output):
        ids = set(doc.xpath("//@id"))
        for href in doc.xpath("//a/@href"):
            if href.startswith("#") and href[1:] not in ids:
                missing.append((rel, href))
    assert missing == []


def test_posts_carry_json_ld(sample: SampleBuild) -> None:
    for src in sample.published:
        doc = page(sample.output, src.url)
        (script,) = doc.xpath("//script[@type='application/ld+json']")
        data = json.loads(script.text)
        assert data["@type"] == "BlogPosting"
        assert data["headline"] == src.title
        assert data["url"] == "https://example.org" + src.url
        assert data["url"] == doc.xpath("//link[@rel='canonical']/@href")[0]
        assert data["datePublished"].startswith(src.day + "T")


def test_no_duplicate_ids(sample: SampleBuild) -> None:
    for rel, doc in html_pages(sample.output):
        ids = Counter(doc.xpath("//@id"))
        assert [i for i, n in ids.items() if n > 1] == [], rel


# --- the sample site: tags, authors, archive -------------------------------------------------

def _listing_posts(output: Path, first_url: str) -> list[str]:
    links: list[str] = []
    for _, doc in walk_listing(output, first_url):
        links += post_links(doc)
    return links


def test_tag_pages_list_exactly_their_posts(sample: SampleBuild) -> None:
    tags = {t for p in sample.published for t in p.tags}
    assert tags
    for tag in tags:
        expected = {p.url for p in sample.published if tag in p.tags}
        links = _listing_posts(sample.output, f"/tags/{tag}/")
        assert len(links) == len(set(links)), tag
        assert set(links) == expected, tag
    # tags used only by drafts or future posts get no page
    only_unpublished = {t for p in sample.posts for t in p.tags} - tags
    for tag in only_unpublished:
        assert not output_file(sample.output, f"/tags/{tag}/").exists()


def test_author_pages_list_exactly_their_posts(sample: SampleBuild) -> None:
    authors = {a for p in sample.published for a in p.authors}
    assert authors == {"maria", "priya", "tomas"}
    for author in authors:
        expected = {p.url for p in sample.published if author in p.authors}
        links = _listing_posts(sample.output, f"/authors/{author}/")
        assert sorted(links) == sorted(expected), author


def test_tag_index_shows_each_tag_with_its_count(sample: SampleBuild) -> None:
    counts = Counter(t for p in sample.published for t in p.tags)
    doc = page(sample.output, "/tags/")
    shown = {}
    for link in doc.xpath("//main//a[starts-with(@href, '/tags/') and @href != '/tags/']"):
        item = link.xpath("ancestor::li[1]")[0]
        rest = text_of(item).replace(text_of(link), "", 1)
        numbers = re.findall(r"\d+", rest)
        assert len(numbers) == 1, text_of(item)
        shown[link.get("href")] = int(numbers[0])
    assert shown == {f"/tags/{t}/": n for t, n in counts.items()}


def test_home_page_lists_published_posts_newest_first_across_pages(
        sample: SampleBuild) -> None:
    links = _listing_posts(sample.output, "/")
    expected = [p.url for p in sorted(sample.published, key=lambda p: p.day, reverse=True)]
    assert links == expected


def test_archive_lists_every_published_post_with_its_day(sample: SampleBuild) -> None:
    doc = page(sample.output, "/archive/")
    found = {}
    for link in doc.xpath("//main//a[starts-with(@href, '/posts/')]"):
        item = link.xpath("ancestor::li[1]")[0]
        found[link.get("href")] = item.xpath(".//time/@datetime")[0][:10]
    assert found == {p.url: p.day for p in sample.published}


def test_replies_appear_under_their_post_oldest_first(sample: SampleBuild) -> None:
    doc = page(sample.output, "/posts/the-waiter-who-kept-the-glasses-full/")
    replies = doc.xpath("//article[starts-with(@id, 'reply-')]")
    names = [text_of(r.xpath(".//h3")[0]) for r in replies]
    days = [r.xpath(".//time/@datetime")[0][:10] for r in replies]
    assert names == ["Ana Ferreira", "Graham"]
    assert days == ["2023-06-12", "2023-06-15"]
    website = replies[0].xpath(".//a[@href='https://ana.example.net/']")[0]
    assert set(website.get("rel").split()) >= {"nofollow", "ugc"}


def test_listings_show_reply_counts(sample: SampleBuild) -> None:
    # the README promises it and the default theme does it: "N replies", linking to #replies
    expected = {"/posts/the-waiter-who-kept-the-glasses-full/": 2,
                "/posts/the-agent-who-actually-read-my-ticket/": 2,
                "/posts/forty-minutes-in-the-pharmacy-queue/": 1}
    shown = {}
    for _, doc in walk_listing(sample.output, "/"):
        for link in doc.xpath("//main//a[contains(@href, '#replies')]"):
            shown[link.get("href").split("#")[0]] = int(re.findall(r"\d+", text_of(link))[0])
    assert shown == expected


# --- purpose-made sites ----------------------------------------------------------------------

def test_pagination_covers_every_post_exactly_once(site: SiteFactory,
                                                   build_site: Builder) -> None:
    files = {
        f"content/posts/2024-01-{day:02d}-post-{day:02d}.md":
            post(f"Post {day:02d}", tags=["odd" if day % 2 else "even", "all"])
        for day in range(1, 24)
    }
    root = site(BASIC + "posts_per_page = 5\n", files)
    assert build_site(root).exit_code == 0
    output = root / "public"
    newest_first = [f"/posts/post-{day:02d}/" for day in range(23, 0, -1)]

    pages = walk_listing(output, "/")
    assert [url for url, _ in pages] == ["/", "/page/2/", "/page/3/", "/page/4/", "/page/5/"]
    per_page = [post_links(doc) for _, doc in pages]
    assert [len(links) for links in per_page] == [5, 5, 5, 5, 3]
    assert [link for links in per_page for link in links] == newest_first
    assert not output_file(output, "/page/6/").exists()
    assert not output_file(output, "/page/1/").exists()
    # previous links go back one page; the first page has none
    assert pager_links(pages[0][1], "prev") == set()
    for (url, _), (_, doc) in zip(pages, pages[1:], strict=False):
        assert pager_links(doc, "prev") == {url}

    # tag listings are paginated the same way
    for tag, days in (("odd", range(23, 0, -2)), ("even", range(22, 0, -2)),
                      ("all", range(23, 0, -1))):
        tag_pages = walk_listing(output, f"/tags/{tag}/")
        links = [link for _, doc in tag_pages for link in post_links(doc)]
        assert links == [f"/posts/post-{d:02d}/" for d in days], tag
        assert len(tag_pages) == -(-len(links) // 5), tag
        assert not output_file(output, f"/tags/{tag}/page/{len(tag_pages) + 1}/").exists()
    assert [u for u, _ in walk_listing(output, "/tags/odd/")] == [
        "/tags/odd/", "/tags/odd/page/2/", "/tags/odd/page/3/"]


def test_exactly_full_last_page_adds_no_empty_page(site: SiteFactory,
                                                   build_site: Builder) -> None:
    files = {f"content/posts/2024-02-{d:02d}-p{d}.md": post(f"P{d}") for d in range(1, 11)}
    root = site(BASIC + "posts_per_page = 5\n", files)
    assert build_site(root).exit_code == 0
    pages = walk_listing(root / "public", "/")
    assert [u for u, _ in pages] == ["/", "/page/2/"]
    assert not output_file(root / "public", "/page/3/").exists()


def test_site_with_no_posts_builds_an_empty_home_page(site: SiteFactory,
                                                      build_site: Builder) -> None:
    root = site(BASIC, {"content/pages/about.md": post("About")})
    assert build_site(root).exit_code == 0
    doc = page(root / "public", "/")
    assert post_links(doc) == []
    assert pager_links(doc, "next") == set()


def test_timezone_keeps_a_bare_date_on_its_day(site: SiteFactory, build_site: Builder) -> None:
    config = BASIC + 'timezone = "America/Chicago"\n'
    files = {
        "content/posts/bare.md": "---\ntitle: Bare date\ndate: 2024-03-05\n---\n\nText.\n",
        "content/posts/2024-03-05-from-the-name.md": post("From the name"),
        "content/posts/late.md": post("Late evening", date="2024-03-05 23:30"),
    }
    root = site(config, files)
    assert build_site(root).exit_code == 0
    output = root / "public"
    for slug in ("bare", "from-the-name", "late"):
        doc = page(output, f"/posts/{slug}/")
        header = doc.xpath("//main//h1/ancestor::header[1]")[0]
        time = header.xpath(".//time")[0]
        assert time.get("datetime").startswith("2024-03-05T"), slug
        assert time.get("datetime").endswith("-06:00"), slug
        assert re.search(r"\b5\b", text_of(time)) and "March" in text_of(time), slug
    archive = page(output, "/archive/")
    for link in archive.xpath("//main//a[starts-with(@href, '/posts/')]"):
        item = link.xpath("ancestor::li[1]")[0]
        assert item.xpath(".//time/@datetime")[0].startswith("2024-03-05"), link.get("href")
        month = item.xpath("preceding::h3[1]")[0]
        assert "March" in text_of(month)


def test_permalink_pattern_uses_the_local_day(site: SiteFactory, build_site: Builder) -> None:
    config = (BASIC + 'timezone = "America/Chicago"\n'
              '[permalinks]\nposts = "/{year}/{month}/{day}/{slug}/"\n')
    root = site(config, {"content/posts/late.md": post("Late", date="2024-03-05 23:30")})
    assert build_site(root).exit_code == 0
    assert output_file(root / "public", "/2024/03/05/late/").is_file()
    home = page(root / "public", "/").xpath("//main//a/@href")
    assert "/2024/03/05/late/" in home


def sitemap_matches_pages(output: Path, base_url: str) -> None:
    parts = urlsplit(base_url)
    pages = set()
    for rel, doc in html_pages(output):
        if rel == "404.html" or is_redirect(doc):
            continue
        pages.add(f"{parts.scheme}://{parts.netloc}{url_of(rel, parts.path)}")
    sitemap = parse_xml(output / "sitemap.xml")
    locs = sitemap.xpath("//s:url/s:loc/text()",
                         namespaces={"s": "http://www.sitemaps.org/schemas/sitemap/0.9"})
    assert len(locs) == len(set(locs))
    assert set(locs) == pages


def test_sitemap_lists_every_html_page(sample: SampleBuild) -> None:
    sitemap_matches_pages(sample.output, "https://example.org/")


def test_robots_txt_points_to_the_sitemap(sample: SampleBuild) -> None:
    lines = (sample.output / "robots.txt").read_text(encoding="utf-8").splitlines()
    sitemaps = [line.split(":", 1)[1].strip() for line in lines
                if line.lower().startswith("sitemap:")]
    assert sitemaps == ["https://example.org/sitemap.xml"]


# --- a site under a path ---------------------------------------------------------------------

@pytest.fixture
def blog_site(site: SiteFactory, build_site: Builder) -> Path:
    """A site served from https://example.org/blog/ with every kind of link in it."""
    config = """\
title = "Under a path"
base_url = "https://example.org/blog/"
author = "ana"
email = "site@example.org"
posts_per_page = 2
"""
    files = {
        "content/posts/2024-01-01-first.md": post(
            "First", "See [the second](2024-01-02-second.md), [about](../pages/about.md), "
            "[root link](/tags/) and ![pic](images/pic.svg).\n\n<!-- more -->\n\nMore.[^1]\n\n"
            "[^1]: A footnote.",
            tags=["one", "two"], aliases=["/old/first.html"], image="images/pic.svg"),
        "content/posts/2024-01-02-second.md": post(
            "Second", "Back to [first](2024-01-01-first.md).", tags=["one"]),
        "content/posts/2024-01-03-third.md": post("Third", tags=["two"], author="Bo Lind"),
        "content/posts/images/pic.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
        "content/pages/about.md": post("About", "Go [home](/)."),
        "content/authors/ana.md": "---\nname: Ana\nemail: ana@example.org\n"
                                  "avatar: /images/ana.svg\n---\nBio.\n",
        "content/comments/first/2024-01-05-reader.md": "---\nname: Reader\n---\nHello.\n",
        "static/images/ana.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
    }
    root = site(config, files)
    result = build_site(root)
    assert result.exit_code == 0, result.stderr
    return root / "public"


def test_no_root_relative_link_escapes_the_base_path(blog_site: Path) -> None:
    escaping = []
    count = 0
    for rel, doc in html_pages(blog_site):
        for value in doc.xpath("//@href | //@src"):
            if value.startswith("/") and not value.startswith("//"):
                count += 1
                if not value.startswith("/blog/"):
                    escaping.append((rel, value))
                elif not output_file(blog_site, urlsplit(value).path, "/blog/").is_file():
                    escaping.append((rel, value + " (missing)"))
    assert count > 50
    assert escaping == []


def _absolute_urls(doc: lxml.html.HtmlElement, xpath: str) -> list[str]:
    values = []
    for value in doc.xpath(xpath):
        value = value.split("url=", 1)[-1] if value.startswith("0;") else value
        if value.startswith("https://example.org"):
            values.append(value)
    return values


def _bad_absolute_urls(output: Path, xpath: str) -> list[tuple[str, str]]:
    bad = []
    for rel, doc in html_pages(output):
        for value in _absolute_urls(doc, xpath):
            path = urlsplit(value).path
            if not path.startswith("/blog/") or not output_file(output, path, "/blog/").is_file():
                bad.append((rel, value))
    return bad


def test_absolute_urls_in_pages_stay_under_the_base_url(blog_site: Path) -> None:
    # og:image is checked on its own below
    xpath = "//@href | //@src | //meta[not(@property='og:image')]/@content"
    assert _bad_absolute_urls(blog_site, xpath) == []


def test_og_image_urls_under_a_base_path_resolve(blog_site: Path) -> None:
    images = [v for _, doc in html_pages(blog_site)
              for v in _absolute_urls(doc, "//meta[@property='og:image']/@content")]
    assert len(images) >= 2  # the post's image and the author's avatar
    assert _bad_absolute_urls(blog_site, "//meta[@property='og:image']/@content") == []


def test_feeds_and_sitemap_links_stay_under_the_base_url(blog_site: Path) -> None:
    rss = parse_xml(blog_site / "feed.xml")
    ns = {"content": "http://purl.org/rss/1.0/modules/content/",
          "atom": "http://www.w3.org/2005/Atom"}
    values = rss.xpath("//item/link/text() | //item/guid/text() | //channel/link/text()"
                       " | //atom:link/@href", namespaces=ns)
    atom = parse_xml(blog_site / "atom.xml")
    values += atom.xpath("//a:link/@href", namespaces={"a": "http://www.w3.org/2005/Atom"})
    sitemap = parse_xml(blog_site / "sitemap.xml")
    values += sitemap.xpath("//s:loc/text()",
                            namespaces={"s": "http://www.sitemaps.org/schemas/sitemap/0.9"})
    assert len(values) > 10
    assert [v for v in values if not v.startswith("https://example.org/blog/")] == []


def test_sitemap_under_the_base_path(blog_site: Path) -> None:
    sitemap_matches_pages(blog_site, "https://example.org/blog/")
    robots = (blog_site / "robots.txt").read_text(encoding="utf-8")
    assert "Sitemap: https://example.org/blog/sitemap.xml" in robots.splitlines()


def test_alias_under_the_base_path(blog_site: Path) -> None:
    doc = page(blog_site, "/blog/old/first.html", "/blog/")
    assert doc.xpath("//link[@rel='canonical']/@href") == ["https://example.org/blog/posts/first/"]


# --- output writing --------------------------------------------------------------------------

def test_unchanged_rebuild_writes_nothing(site: SiteFactory) -> None:
    files = {f"content/posts/2024-01-0{d}-p{d}.md": post(f"P{d}", tags=["t"]) for d in (1, 2)}
    root = site(BASIC, {**files, "static/robots-note.txt": "hello"})
    first = build(root)
    assert first.files.written > 10
    old = 1_000_000_000  # 2001: any rewrite would move the time forward
    files_out = [p for p in first.output.rglob("*") if p.is_file()]
    for path in files_out:
        os.utime(path, (old, old))
    second = build(root)
    assert second.files.written == 0
    assert second.files.removed == 0
    assert second.files.unchanged == len(files_out)
    assert {p: p.stat().st_mtime for p in files_out} == {p: old for p in files_out}


def test_changed_post_rewrites_its_page(site: SiteFactory) -> None:
    root = site(BASIC, {"content/posts/2024-01-01-p.md": post("P", "First text.")})
    first = build(root)
    target = first.output / "posts" / "p" / "index.html"
    os.utime(target, (1_000_000_000, 1_000_000_000))
    (root / "content/posts/2024-01-01-p.md").write_text(post("P", "Second text."))
    second = build(root)
    assert second.files.written >= 1
    assert target.stat().st_mtime != 1_000_000_000
    assert "Second text." in text_of(page(first.output, "/posts/p/").xpath("//main")[0])


def test_stale_output_is_removed_but_hand_made_files_survive(site: SiteFactory,
                                                             build_site: Builder) -> None:
    root = site(BASIC, {
        "content/posts/2024-01-01-keep.md": post("Keep", tags=["shared"]),
        "content/posts/2024-01-02-gone.md": post("Gone", tags=["shared", "only-gone"]),
    })
    assert build_site(root).exit_code == 0
    output = root / "public"
    assert output_file(output, "/posts/gone/").is_file()
    assert output_file(output, "/tags/only-gone/").is_file()
    (output / "CNAME").write_text("example.org")
    (output / "posts" / "notes.txt").write_text("mine")
    (root / "content/posts/2024-01-02-gone.md").unlink()

    result = build_site(root)
    assert result.exit_code == 0
    assert not (output / "posts" / "gone").exists()
    assert not (output / "tags" / "only-gone").exists()
    assert output_file(output, "/posts/keep/").is_file()
    assert (output / "CNAME").read_text() == "example.org"
    assert (output / "posts" / "notes.txt").read_text() == "mine"
    assert post_links(page(output, "/")) == ["/posts/keep/"]


def test_failed_build_leaves_previous_output(site: SiteFactory, build_site: Builder) -> None:
    root = site(BASIC, {"content/posts/2024-01-01-p.md": post("P")})
    assert build_site(root).exit_code == 0
    before = {p: p.read_bytes() for p in (root / "public").rglob("*") if p.is_file()}
    (root / "content/posts/2024-01-02-q.md").write_text("---\ntitle: [broken\n---\n")
    assert build_site(root).exit_code == 1
    after = {p: p.read_bytes() for p in (root / "public").rglob("*") if p.is_file()}
    assert after == before


def test_output_option_builds_elsewhere(site: SiteFactory, build_site: Builder) -> None:
    root = site(BASIC, {"content/posts/2024-01-01-p.md": post("P")})
    result = build_site(root, "-o", "elsewhere")
    assert result.exit_code == 0
    assert output_file(root / "elsewhere", "/posts/p/").is_file()
    assert not (root / "public").exists()


def test_build_refuses_to_write_into_content(site: SiteFactory, build_site: Builder) -> None:
    root = site(BASIC, {"content/posts/2024-01-01-p.md": post("P")})
    result = build_site(root, "-o", "content/out")
    assert result.exit_code == 1
    assert "content" in result.stderr
    assert not (root / "content" / "out").exists()


def test_build_library_returns_a_report(site: SiteFactory) -> None:
    root = site(BASIC, {"content/posts/2024-01-01-p.md": post("P", tags=["a", "b"]),
                        "content/posts/2024-01-02-d.md": post("D", draft=True)})
    report = build(root, BuildOptions())
    assert (report.posts, report.pages, report.tags) == (1, 0, 2)
    assert report.left_out.drafts == 1
    assert report.output == (root / "public").resolve()


# --- "Reply by email" ------------------------------------------------------------------------

def reply_address_and_subject(doc: lxml.html.HtmlElement) -> tuple[str, str]:
    """The one "Reply by email" link of a post page, decoded as RFC 6068 says."""
    hrefs = mailto_reply(doc)
    assert len(hrefs) == 1, hrefs
    parts = urlsplit(hrefs[0])
    assert parts.scheme == "mailto" and not parts.fragment
    fields = dict(pair.split("=", 1) for pair in parts.query.split("&"))
    assert set(fields) == {"subject"}
    return unquote(parts.path), unquote(fields["subject"])


REPLY_CONFIG = BASIC + 'author = "ana"\n'
AUTHORS = {
    "content/authors/ana.md": "---\nname: Ana\nemail: ana@example.org\n---\n",
    "content/authors/bo.md": "---\nname: Bo\nemail: bo@example.org\n---\n",
    "content/authors/cy.md": "---\nname: Cy\n---\n",
}


def test_reply_address_falls_back_from_post_to_author_to_site(site: SiteFactory,
                                                              build_site: Builder) -> None:
    root = site(REPLY_CONFIG, {
        **AUTHORS,
        "content/posts/2024-01-01-own.md": post("Own", reply_to="letters+own@example.net",
                                                author="bo"),
        "content/posts/2024-01-02-pair.md": post("Pair", authors=["bo", "ana"]),
        "content/posts/2024-01-03-default.md": post("Default"),
        "content/posts/2024-01-04-no-email.md": post("No email", author="cy"),
        "content/posts/2024-01-05-stranger.md": post("Stranger", author="Someone Else"),
    })
    assert build_site(root).exit_code == 0
    expected = {
        "own": ("letters+own@example.net", "2024-01-01-own"),
        "pair": ("bo@example.org", "2024-01-02-pair"),
        "default": ("ana@example.org", "2024-01-03-default"),
        "no-email": ("site@example.org", "2024-01-04-no-email"),
        "stranger": ("site@example.org", "2024-01-05-stranger"),
    }
    for slug, (address, post_id) in expected.items():
        doc = page(root / "public", f"/posts/{slug}/")
        title = text_of(doc.xpath("//main//h1")[0])
        assert reply_address_and_subject(doc) == (address, f"Re: {title} [{post_id}]"), slug


def test_comments_false_removes_the_reply_link(site: SiteFactory, build_site: Builder) -> None:
    root = site(REPLY_CONFIG, {**AUTHORS,
                               "content/posts/2024-01-01-off.md": post("Off", comments=False),
                               "content/posts/2024-01-02-on.md": post("On")})
    assert build_site(root).exit_code == 0
    assert mailto_reply(page(root / "public", "/posts/off/")) == []
    assert len(mailto_reply(page(root / "public", "/posts/on/"))) == 1


def test_site_wide_comments_false(site: SiteFactory, build_site: Builder) -> None:
    root = site(REPLY_CONFIG + "comments = false\n", {
        **AUTHORS, "content/posts/2024-01-01-off.md": post("Off"),
        "content/posts/2024-01-02-on.md": post("On", comments=True)})
    assert build_site(root).exit_code == 0
    assert mailto_reply(page(root / "public", "/posts/off/")) == []
    assert len(mailto_reply(page(root / "public", "/posts/on/"))) == 1


def test_sample_reply_links(sample: SampleBuild) -> None:
    for src in sample.published:
        doc = page(sample.output, src.url)
        if not src.comments:
            assert mailto_reply(doc) == [], src.source
            continue
        address, subject = reply_address_and_subject(doc)
        assert address == f"{src.authors[0]}@example.org", src.source
        assert subject == f"Re: {src.title} [{src.day}-{src.slug}]", src.source


def test_awkward_title_round_trips_through_the_mailto_subject(site: SiteFactory,
                                                              build_site: Builder) -> None:
    title = "Fish & chips? 100% #1 — crème brûlée + “quotes”"
    root = site(REPLY_CONFIG, {**AUTHORS, "content/posts/2024-03-05-fish.md": post(title)})
    assert build_site(root).exit_code == 0
    doc = page(root / "public", "/posts/fish/")
    assert text_of(doc.xpath("//main//h1")[0]) == title
    assert reply_address_and_subject(doc) == ("ana@example.org",
                                              f"Re: {title} [2024-03-05-fish]")


# --- slugs -----------------------------------------------------------------------------------

def test_slugs_are_ascii_by_default(site: SiteFactory, build_site: Builder) -> None:
    root = site(BASIC, {
        "content/posts/2024-01-01-Café — naïve.md": post("Café — naïve"),
        "content/posts/2024-01-02-x.md": post("X", slug="Straße Ærø"),
    })
    assert build_site(root).exit_code == 0
    assert set(post_links(page(root / "public", "/"))) == {"/posts/cafe-naive/",
                                                           "/posts/strasse-aero/"}
    for url in ("/posts/cafe-naive/", "/posts/strasse-aero/"):
        assert output_file(root / "public", url).is_file()


def test_unicode_slugs_keep_letters(site: SiteFactory, build_site: Builder) -> None:
    root = site(BASIC + "unicode_slugs = true\n", {
        "content/posts/2024-01-01-Café — naïve.md": post("Café — naïve", tags=["Ærø"])})
    assert build_site(root).exit_code == 0
    output = root / "public"
    assert (output / "posts" / "café-naïve" / "index.html").is_file()
    assert (output / "tags" / "ærø" / "index.html").is_file()
    hrefs = {unquote(h) for h in page(output, "/").xpath("//main//a/@href")}
    assert {"/posts/café-naïve/", "/tags/ærø/"} <= hrefs


def test_punctuation_title_still_gets_a_page(site: SiteFactory, build_site: Builder) -> None:
    root = site(BASIC, {"content/posts/2024-01-01-!!!.md": post("?!"),
                        "content/posts/2024-01-02-—.md": post("—")})
    result = build_site(root)
    assert result.exit_code == 1  # both fall back to one slug: a collision, not a silent overwrite
    assert "2024-01-01-!!!.md" in result.stderr and "2024-01-02-—.md" in result.stderr
    (root / "content/posts/2024-01-02-—.md").unlink()
    assert build_site(root).exit_code == 0
    doc = page(root / "public", "/")
    link = doc.xpath("//main//a[normalize-space()='?!']/@href")[0]
    assert link.startswith("/posts/") and link.strip("/") != "posts"
    assert output_file(root / "public", link).is_file()


def test_same_slug_fails_naming_both_files(site: SiteFactory, build_site: Builder) -> None:
    root = site(BASIC, {"content/posts/2024-01-01-same.md": post("One"),
                        "content/posts/2024-02-01-other.md": post("Two", slug="same")})
    result = build_site(root)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1
    assert "content/posts/2024-01-01-same.md" in errors[0]
    assert "content/posts/2024-02-01-other.md" in errors[0]
    assert not (root / "public").exists()


def test_page_and_post_on_one_path_collide(site: SiteFactory, build_site: Builder) -> None:
    config = BASIC + '[permalinks]\nposts = "/{slug}/"\n'
    root = site(config, {"content/posts/2024-01-01-about.md": post("About me"),
                         "content/pages/about.md": post("About")})
    result = build_site(root)
    assert result.exit_code == 1
    assert "content/posts/2024-01-01-about.md" in result.stderr
    assert "content/pages/about.md" in result.stderr


def test_tags_differing_in_case_are_one_tag(site: SiteFactory, build_site: Builder) -> None:
    root = site(BASIC, {"content/posts/2024-01-01-a.md": post("A", tags=["Retail"]),
                        "content/posts/2024-01-02-b.md": post("B", tags=["retail"]),
                        "content/posts/2024-01-03-c.md": post("C", tags="RETAIL, other")})
    assert build_site(root).exit_code == 0
    output = root / "public"
    assert sorted(p.name for p in (output / "tags").iterdir() if p.is_dir()) == [
        "other", "retail"]
    assert set(post_links(page(output, "/tags/retail/"))) == {"/posts/a/", "/posts/b/",
                                                              "/posts/c/"}
    tag_links = page(output, "/tags/").xpath("//main//a[@href='/tags/retail/']")
    assert len(tag_links) == 1
    assert "3" in text_of(tag_links[0].xpath("ancestor::li[1]")[0])


# --- replies ---------------------------------------------------------------------------------

def test_replies_are_escaped_and_ordered(site: SiteFactory, build_site: Builder) -> None:
    hostile = ("Nice post <script>alert('x')</script>\n\n<img src=x onerror=alert(1)>\n\n"
               "<script>\nalert(2)\n</script>\n\n"
               "[click me](javascript:alert(3)) and [my site](https://reader.example/)\n")
    root = site(BASIC, {
        "content/posts/2024-01-01-essay.md": post("Essay"),
        "content/comments/essay/b-later.md": "---\nname: Later\ndate: 2024-01-05\n---\nSecond.\n",
        "content/comments/essay/a-hostile.md": "---\nname: Mallory\ndate: 2024-01-03\n"
                                               "url: javascript:alert(4)\n---\n" + hostile,
        "content/comments/essay/c-first.md": "---\nname: First\ndate: 2024-01-02 10:00\n---\nHi\n",
    })
    result = build_site(root)
    assert result.exit_code == 1  # the javascript: website is refused, naming the file and key
    assert "content/comments/essay/a-hostile.md:4" in result.stderr and "'url'" in result.stderr
    source = root / "content/comments/essay/a-hostile.md"
    source.write_text(source.read_text().replace("url: javascript:alert(4)\n", ""))
    assert build_site(root).exit_code == 0

    doc = page(root / "public", "/posts/essay/")
    replies = doc.xpath("//article[starts-with(@id, 'reply-')]")
    assert [text_of(r.xpath(".//h3")[0]) for r in replies] == ["First", "Mallory", "Later"]
    hostile_reply = replies[1]
    assert hostile_reply.xpath(".//script | .//img | .//*[@onerror]") == []
    assert "<script>" in hostile_reply.text_content()
    assert not [h for h in hostile_reply.xpath(".//@href") if "javascript" in h.lower()]
    link = hostile_reply.xpath(".//a[@href='https://reader.example/']")[0]
    assert set(link.get("rel").split()) >= {"nofollow", "ugc"}
    assert [s.get("type") for s in doc.xpath("//script")] == ["application/ld+json"]


def test_replies_for_no_post_are_a_warning(site: SiteFactory, build_site: Builder) -> None:
    root = site(BASIC, {"content/posts/2024-01-01-essay.md": post("Essay"),
                        "content/comments/esay/a.md": "---\nname: A\ndate: 2024-01-02\n---\nHi\n"})
    result = build_site(root)
    assert result.exit_code == 0
    assert "content/comments/esay/a.md" in result.stderr and "warning" in result.stderr


# --- themes ----------------------------------------------------------------------------------

def test_site_template_extends_the_default_one(site: SiteFactory, build_site: Builder) -> None:
    override = ('{% extends "default/post.html" %}\n{% block content %}'
                '<p id="custom-note">Custom note for {{ post.title }}</p>\n{{ super() }}'
                '{% endblock %}\n')
    root = site(BASIC, {"content/posts/2024-01-01-p.md": post("P", mood="calm"),
                        "templates/post.html": override})
    assert build_site(root).exit_code == 0
    doc = page(root / "public", "/posts/p/")
    assert [text_of(p) for p in doc.xpath("//p[@id='custom-note']")] == ["Custom note for P"]
    assert [text_of(h) for h in doc.xpath("//main//h1")] == ["P"]  # super() kept the essay
    assert page(root / "public", "/").xpath("//p[@id='custom-note']") == []


def test_post_extra_reaches_templates(site: SiteFactory, build_site: Builder) -> None:
    override = ('{% extends "default/post.html" %}\n{% block content %}'
                '<p id="mood">{{ post.extra.mood }}</p>{{ super() }}{% endblock %}\n')
    root = site(BASIC, {"content/posts/2024-01-01-p.md": post("P", mood="hopeful"),
                        "templates/post.html": override})
    assert build_site(root).exit_code == 0
    assert page(root / "public", "/posts/p/").xpath("//p[@id='mood']/text()") == ["hopeful"]


def test_a_theme_folder_is_used(site: SiteFactory, build_site: Builder) -> None:
    root = site(BASIC + 'theme = "plain"\n', {
        "content/posts/2024-01-01-p.md": post("P"),
        "themes/plain/templates/tags.html":
            '{% extends "base.html" %}{% block content %}<h1 id="plain">Plain tags</h1>'
            '{% endblock %}',
        "themes/plain/static/extra.css": "body{}",
    })
    assert build_site(root).exit_code == 0
    assert page(root / "public", "/tags/").xpath("//h1[@id='plain']")
    assert (root / "public" / "extra.css").read_text() == "body{}"
    assert (root / "public" / "css" / "style.css").is_file()  # the default's files still come


def test_undefined_variable_names_template_and_line(site: SiteFactory,
                                                    build_site: Builder) -> None:
    broken = ('{% extends "default/post.html" %}\n{% block content %}\n'
              '<p>{{ post.no_such_field }}</p>\n{% endblock %}\n')
    root = site(BASIC, {"content/posts/2024-01-01-p.md": post("P"),
                        "templates/post.html": broken})
    result = build_site(root)
    assert result.exit_code == 1
    assert re.search(r"templates/post\.html:3\b", result.stderr), result.stderr
    assert "no_such_field" in result.stderr
    assert not (root / "public").exists()


def test_template_syntax_error_names_template_and_line(site: SiteFactory,
                                                       build_site: Builder) -> None:
    root = site(BASIC, {"content/posts/2024-01-01-p.md": post("P"),
                        "templates/tags.html": "<p>\n{% if %}\n</p>\n"})
    result = build_site(root)
    assert result.exit_code == 1
    assert re.search(r"templates/tags\.html:2\b", result.stderr), result.stderr


# --- what is read and what is copied ---------------------------------------------------------

def test_ignored_files_are_not_published(site: SiteFactory, build_site: Builder) -> None:
    root = site(BASIC, {
        "content/posts/2024-01-01-real.md": post("Real"),
        "content/posts/_unfinished.md": "---\ntitle: [broken\n---\n",
        "content/posts/.hidden.md": "not even front matter: [",
        "content/posts/2024-01-01-real.md~": post("Backup"),
        "content/posts/#2024-01-02-autosave.md#": post("Autosave"),
        "content/posts/.#2024-01-03-lock.md": post("Lock"),
        "static/.DS_Store": "x",
        "static/CNAME": "example.org",
    })
    result = build_site(root)
    assert result.exit_code == 0, result.stderr
    assert post_links(page(root / "public", "/")) == ["/posts/real/"]
    assert (root / "public" / "CNAME").read_text() == "example.org"
    assert not (root / "public" / ".DS_Store").exists()


def test_static_file_may_not_replace_a_generated_page(site: SiteFactory,
                                                     build_site: Builder) -> None:
    root = site(BASIC, {"content/posts/2024-01-01-p.md": post("P"),
                        "static/feed.xml": "<rss/>"})
    result = build_site(root)
    assert result.exit_code == 1
    assert "static/feed.xml" in result.stderr


def test_site_static_replaces_the_theme_file(site: SiteFactory, build_site: Builder) -> None:
    root = site(BASIC, {"content/posts/2024-01-01-p.md": post("P"),
                        "static/css/style.css": "/* mine */"})
    assert build_site(root).exit_code == 0
    assert (root / "public" / "css" / "style.css").read_text() == "/* mine */"


def test_nested_page_and_page_alias(site: SiteFactory, build_site: Builder) -> None:
    root = site(BASIC, {"content/pages/team/joe.md": post("Joe", aliases=["/joe.html"]),
                        "content/pages/hidden.md": post("Hidden", menu=False)})
    assert build_site(root).exit_code == 0
    output = root / "public"
    assert [t.text_content() for t in page(output, "/team/joe/").xpath("//main//h1")] == ["Joe"]
    redirect = page(output, "/joe.html")
    assert redirect.xpath("//link[@rel='canonical']/@href") == ["https://example.org/team/joe/"]
    nav = page(output, "/").xpath("//header//nav//a/@href")
    assert "/team/joe/" in nav and "/hidden/" not in nav
