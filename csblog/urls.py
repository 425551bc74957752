"""Slugs, permalinks and output paths: the only module that knows the URL scheme.

A *site path* is a path from the site's root, such as "/posts/the-rude-counter/". The public URL
adds the base path of `base_url` ("/blog/posts/the-rude-counter/"); the output file is the site
path as a file under the output folder ("posts/the-rude-counter/index.html").
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from anyascii import anyascii

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_NON_ASCII_WORD = re.compile(r"[^a-z0-9]+")


@functools.lru_cache(maxsize=1 << 16)  # pure, and called for every tag of every post
def slugify(text: str, keep_unicode: bool = False) -> str:
    """A URL-safe slug: lower case words joined by '-'; empty if the text has no letters or digits.

    By default the text is transliterated to ASCII ("Café" -> "cafe", "Привет" -> "privet").
    """
    text = unicodedata.normalize("NFKC", text)
    if keep_unicode:
        slug = _NON_WORD.sub("-", text.lower()).replace("_", "-")
    else:
        slug = _NON_ASCII_WORD.sub("-", anyascii(text).lower())
    return re.sub(r"-{2,}", "-", slug).strip("-")


def post_path(pattern: str, slug: str, date: datetime) -> str:
    """The site path of a post from the `permalinks.posts` pattern."""
    path = pattern.format(
        slug=slug, year=f"{date.year:04d}", month=f"{date.month:02d}", day=f"{date.day:02d}"
    )
    return re.sub(r"/{2,}", "/", path)


def page_path(slug_parts: list[str]) -> str:
    return "/" + "/".join(slug_parts) + "/"


def tag_path(slug: str) -> str:
    return f"/tags/{slug}/"


def author_path(author_id: str) -> str:
    return f"/authors/{author_id}/"


def paginated_path(first: str, number: int) -> str:
    """Page N of a listing whose first page is `first`: "/" -> "/page/2/"."""
    return first if number == 1 else f"{first}page/{number}/"


HOME_PATH = "/"
ARCHIVE_PATH = "/archive/"
TAGS_PATH = "/tags/"
AUTHORS_PATH = "/authors/"
RSS_PATH = "/feed.xml"
ATOM_PATH = "/atom.xml"
SITEMAP_PATH = "/sitemap.xml"
ROBOTS_PATH = "/robots.txt"
NOT_FOUND_PATH = "/404.html"


def tag_feed_path(slug: str) -> str:
    return f"/tags/{slug}/feed.xml"


def output_file(site_path: str) -> str:
    """The file (relative to the output folder) that serves a site path."""
    rel = site_path.lstrip("/")
    if rel == "" or rel.endswith("/"):
        return rel + "index.html"
    last = rel.rsplit("/", 1)[-1]
    return rel if "." in last else rel + "/index.html"


def normalize_site_path(path: str) -> str | None:
    """A writer-given site path (an alias) made canonical, or None if it is unsafe.

    Unsafe: '..' segments, backslashes, control characters, a scheme or a drive letter.
    """
    if not path or "\\" in path or any(ord(c) < 32 for c in path) or re.match(r"^[a-zA-Z]+:", path):
        return None
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    joined = "/" + "/".join(parts)
    if path.endswith("/") and parts:
        joined += "/"
    return joined


@dataclass(frozen=True)
class UrlScheme:
    """Turns site paths into public URLs for one base_url."""

    base_path: str  # "/" or "/blog/"
    origin: str  # "https://example.org"

    def url(self, site_path: str) -> str:
        """The root-relative public URL of a site path."""
        return self.base_path + site_path.lstrip("/")

    def abs_url(self, site_path: str) -> str:
        return self.origin + self.url(site_path)
