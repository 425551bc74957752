"""RSS 2.0, Atom, per-tag feeds, the sitemap and robots.txt, written by csblog itself.

Every link inside feed content is made absolute; ids are stable (the permalink for RSS guids, a
tag: URI for Atom); dates carry the site's time zone offset; the feed's own date is that of its
newest entry, so the same content always gives the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import csblog
from csblog.config import SiteConfig
from csblog.page_rendering import RenderedPage
from csblog.posts import Post
from csblog.site_model import Site
from csblog.urls import (
    ARCHIVE_PATH,
    ATOM_PATH,
    AUTHORS_PATH,
    ROBOTS_PATH,
    RSS_PATH,
    SITEMAP_PATH,
    TAGS_PATH,
    UrlScheme,
    output_file,
    tag_feed_path,
)

# characters XML 1.0 forbids: one pasted form feed would make a whole feed unreadable
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# (xml.sax.saxutils and email.utils do these, but importing them imports urllib.request,
# http.client and the email package: 30 ms of every build's start, feeds or not)

def escape(text: str) -> str:
    """XML-escape text, as xml.sax.saxutils.escape. Plain str first: Markup's own methods
    would escape twice."""
    plain = _NOT_XML.sub("", str.__str__(text))
    return plain.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def quoteattr(text: str) -> str:
    """An attribute value in quotes, as xml.sax.saxutils.quoteattr."""
    value = escape(text).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' in value:
        if "'" in value:
            return '"{}"'.format(value.replace('"', "&quot;"))
        return f"'{value}'"
    return f'"{value}"'


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_datetime(when: datetime) -> str:
    """An RFC 2822 date, as email.utils.format_datetime (an aware datetime)."""
    zone = when.strftime("%z") if when.tzinfo is not None else "-0000"
    return (f"{_DAYS[when.weekday()]}, {when.day:02d} {_MONTHS[when.month - 1]} "
            f"{when.year:04d} {when.hour:02d}:{when.minute:02d}:{when.second:02d} {zone}")


_LINK_ATTR = re.compile(r'\b(href|src)="([^"]*)"')
_EPOCH = "1970-01-01T00:00:00+00:00"


def absolute_links(html: str, origin: str, page_url: str) -> str:
    """Make root-relative and fragment links absolute, for content read outside the site."""

    def fix(match: re.Match[str]) -> str:
        attr, value = match.groups()
        if value.startswith("#"):
            return f'{attr}="{page_url}{value}"'
        if value.startswith("/") and not value.startswith("//"):
            return f'{attr}="{origin}{value}"'
        return match.group(0)

    return _LINK_ATTR.sub(fix, html)


def _entries(posts: Iterable[Post], limit: int) -> list[Post]:
    posts = list(posts)
    return posts[:limit] if limit else posts


def _content(post: Post, config: SiteConfig) -> str:
    html = post.content if config.feed.full_content else post.summary
    return absolute_links(str(html), config.origin, post.abs_url)


def _tag_uri(config: SiteConfig, when: datetime, path: str) -> str:
    """An Atom id that stays the same as long as the host and the permalink do (RFC 4151)."""
    host = re.sub(r"^https?://", "", config.origin).split(":")[0]
    return f"tag:{host},{when:%Y-%m-%d}:{path}"


def rss(posts: Iterable[Post], config: SiteConfig, urls: UrlScheme, feed_path: str,
        title: str, link_path: str) -> RenderedPage:
    entries = _entries(posts, config.feed.limit)
    newest = max((p.updated or p.date for p in entries), default=None)
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">',
        "<channel>",
        f"<title>{escape(title)}</title>",
        f"<link>{escape(urls.abs_url(link_path))}</link>",
        f"<description>{escape(config.description or config.title)}</description>",
        f"<language>{escape(config.language)}</language>",
        f"<generator>csblog {csblog.__version__}</generator>",
        f'<atom:link href={quoteattr(urls.abs_url(feed_path))} rel="self" '
        'type="application/rss+xml"/>',
    ]
    if newest is not None:
        out.append(f"<lastBuildDate>{format_datetime(newest)}</lastBuildDate>")
    for post in entries:
        out += [
            "<item>",
            f"<title>{escape(post.title)}</title>",
            f"<link>{escape(post.abs_url)}</link>",
            f'<guid isPermaLink="true">{escape(post.abs_url)}</guid>',
            f"<pubDate>{format_datetime(post.date)}</pubDate>",
        ]
        out += [f"<dc:creator>{escape(a.name)}</dc:creator>" for a in post.authors]
        out += [f"<category>{escape(t.name)}</category>" for t in post.tags]
        summary = absolute_links(post.summary, config.origin, post.abs_url)
        out.append(f"<description>{escape(summary)}</description>")
        if config.feed.full_content:
            out.append(f"<content:encoded>{escape(_content(post, config))}</content:encoded>")
        out.append("</item>")
    out += ["</channel>", "</rss>", ""]
    return RenderedPage(output_file(feed_path), "\n".join(out).encode("utf-8"))


def atom(posts: Iterable[Post], config: SiteConfig, urls: UrlScheme) -> RenderedPage:
    entries = _entries(posts, config.feed.limit)
    newest = max((p.updated or p.date for p in entries), default=None)
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang={quoteattr(config.language)}>',
        f"<title>{escape(config.title)}</title>",
    ]
    if config.description:
        out.append(f"<subtitle>{escape(config.description)}</subtitle>")
    out += [
        f"<id>{escape(urls.abs_url('/'))}</id>",
        f'<link rel="alternate" type="text/html" href={quoteattr(urls.abs_url("/"))}/>',
        f'<link rel="self" type="application/atom+xml" href={quoteattr(urls.abs_url(ATOM_PATH))}/>',
        f"<updated>{newest.isoformat() if newest else _EPOCH}</updated>",
        f'<generator version="{csblog.__version__}">csblog</generator>',
        f"<author><name>{escape(config.title)}</name></author>",
    ]
    for post in entries:
        out += [
            "<entry>",
            f'<title type="html">{escape(escape(post.title))}</title>',
            f'<link rel="alternate" type="text/html" href={quoteattr(post.abs_url)}/>',
            f"<id>{escape(_tag_uri(config, post.date, post.path))}</id>",
            f"<published>{post.date.isoformat()}</published>",
            f"<updated>{(post.updated or post.date).isoformat()}</updated>",
        ]
        for author in post.authors:
            out.append(f"<author><name>{escape(author.name)}</name>"
                       f"<uri>{escape(author.abs_url)}</uri></author>")
        out += [f"<category term={quoteattr(t.name)}/>" for t in post.tags]
        summary = absolute_links(post.summary, config.origin, post.abs_url)
        out.append(f'<summary type="html">{escape(summary)}</summary>')
        if config.feed.full_content:
            out.append(f'<content type="html">{escape(_content(post, config))}</content>')
        out.append("</entry>")
    out += ["</feed>", ""]
    return RenderedPage(output_file(ATOM_PATH), "\n".join(out).encode("utf-8"))


def sitemap(site: Site, urls: UrlScheme) -> RenderedPage:
    """Every HTML page of the site (not the 404 page nor redirects)."""
    entries: list[tuple[str, datetime | None]] = []
    for post in site.posts:
        entries.append((post.path, post.updated or post.date))
    for page in site.pages:
        entries.append((page.path, page.updated))
    for listing in site.listings:
        newest = listing.posts[0].date if listing.posts else None
        entries.append((listing.path, newest))
    newest_post = site.posts[0].date if site.posts else None
    for path in (TAGS_PATH, AUTHORS_PATH, ARCHIVE_PATH):
        entries.append((path, newest_post))
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for path, lastmod in sorted(entries, key=lambda e: e[0]):
        out.append(f"<url><loc>{escape(urls.abs_url(path))}</loc>"
                   + (f"<lastmod>{lastmod.date().isoformat()}</lastmod>" if lastmod else "")
                   + "</url>")
    out += ["</urlset>", ""]
    return RenderedPage(output_file(SITEMAP_PATH), "\n".join(out).encode("utf-8"))


def robots(urls: UrlScheme) -> RenderedPage:
    text = f"User-agent: *\nAllow: /\n\nSitemap: {urls.abs_url(SITEMAP_PATH)}\n"
    return RenderedPage(output_file(ROBOTS_PATH), text.encode("utf-8"))


@dataclass(frozen=True)
class FeedJob:
    """A feed (or the sitemap, or robots.txt) to write: its output file, what it shows, and how
    to render it. `posts` and `extra` are what its dependency key is made of."""

    path: str
    posts: tuple[Post, ...]
    extra: str
    render: Callable[[], RenderedPage]


def feed_jobs(site: Site, config: SiteConfig) -> list[FeedJob]:
    """The feeds, the sitemap and robots.txt, unrendered."""
    urls = UrlScheme(config.base_path, config.origin)
    limit = config.feed.limit
    jobs = [
        FeedJob(output_file(RSS_PATH), tuple(_entries(site.posts, limit)), "",
                partial(rss, site.posts, config, urls, RSS_PATH, config.title, "/")),
        FeedJob(output_file(ATOM_PATH), tuple(_entries(site.posts, limit)), "",
                partial(atom, site.posts, config, urls)),
    ]
    for tag in site.tags:
        jobs.append(FeedJob(
            output_file(tag_feed_path(tag.slug)),
            tuple(_entries(site.posts_by_tag[tag.slug], limit)), repr(tag),
            partial(rss, site.posts_by_tag[tag.slug], config, urls, tag_feed_path(tag.slug),
                    f"{config.title}: {tag.name}", f"/tags/{tag.slug}/")))
    jobs.append(FeedJob(output_file(SITEMAP_PATH), site.posts,
                        repr((site.pages, site.tags, site.authors)),
                        partial(sitemap, site, urls)))
    jobs.append(FeedJob(output_file(ROBOTS_PATH), (), "", partial(robots, urls)))
    return jobs


def feed_files(site: Site, config: SiteConfig) -> Iterator[RenderedPage]:
    """The feeds, the sitemap and robots.txt."""
    for job in feed_jobs(site, config):
        yield job.render()
