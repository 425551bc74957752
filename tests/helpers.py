"""Helpers shared by the tests: write a site, then find and parse what a build wrote.

Plain functions (the fixtures that use them live in conftest.py). Output is always parsed:
HTML with lxml.html, feeds and the sitemap with lxml.etree.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import lxml.etree
import lxml.html
import yaml

from csblog.build import BuildReport

REPO = Path(__file__).resolve().parent.parent
SAMPLE_PARTS = ("csblog.toml", "content", "static")

RSS_NS = {"content": "http://purl.org/rss/1.0/modules/content/",
          "atom": "http://www.w3.org/2005/Atom",
          "dc": "http://purl.org/dc/elements/1.1/"}
ATOM_NS = {"a": "http://www.w3.org/2005/Atom"}
SITEMAP_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


@dataclass(frozen=True)
class Result:
    """What one run of the command line gave."""

    exit_code: int
    stdout: str
    stderr: str


# --- writing sites ---------------------------------------------------------------------------

def make_site(root: Path, config: str, files: Mapping[str, str] | None = None) -> Path:
    """Write csblog.toml and the given files (paths relative to the site) under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "csblog.toml").write_text(textwrap.dedent(config), encoding="utf-8")
    for rel, text in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def post(title: str, body: str = "Some text about service.", **front: Any) -> str:
    """A Markdown source with YAML front matter (title first, then the given keys)."""
    meta = yaml.safe_dump({"title": title, **front}, allow_unicode=True, sort_keys=False)
    return f"---\n{meta}---\n\n{body}\n"


def copy_sample_site(target: Path) -> Path:
    """Copy the repository's sample site (not its output or cache) into `target`."""
    target.mkdir(parents=True, exist_ok=True)
    for part in SAMPLE_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, target / part)
        else:
            shutil.copy2(source, target / part)
    return target


# --- what the sample site's front matter says (read with PyYAML, not with csblog) -------------

@dataclass(frozen=True)
class SourcePost:
    source: str
    slug: str
    title: str
    day: str  # "2024-03-05", the calendar day in the site's time zone
    tags: tuple[str, ...]
    authors: tuple[str, ...]
    draft: bool
    comments: bool
    aliases: tuple[str, ...]

    @property
    def url(self) -> str:
        return f"/posts/{self.slug}/"

    @property
    def future(self) -> bool:
        return date.fromisoformat(self.day) > date.today()


def read_source_posts(site_dir: Path) -> list[SourcePost]:
    """The sample site's posts as their front matter describes them."""
    posts = []
    for path in sorted((site_dir / "content" / "posts").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        meta = yaml.safe_load(text.split("---\n")[1]) or {}
        stem = path.stem
        authors = meta.get("authors") or [meta["author"]]
        posts.append(SourcePost(
            source=path.relative_to(site_dir).as_posix(),
            slug=meta.get("slug") or stem[11:],
            title=meta["title"],
            day=str(meta.get("date") or stem[:10])[:10],
            tags=tuple(meta.get("tags", [])),
            authors=tuple(authors),
            draft=bool(meta.get("draft", False)),
            comments=bool(meta.get("comments", True)),
            aliases=tuple(meta.get("aliases", [])),
        ))
    return posts


@dataclass(frozen=True)
class SampleBuild:
    site: Path
    output: Path  # the published build
    drafts_output: Path  # built with --drafts
    future_output: Path  # built with --future
    report: BuildReport
    posts: tuple[SourcePost, ...]  # what the front matter says

    @property
    def published(self) -> tuple[SourcePost, ...]:
        return tuple(p for p in self.posts if not p.draft and not p.future)


# --- reading output --------------------------------------------------------------------------

def output_file(output: Path, url: str, base_path: str = "/") -> Path:
    """The file that serves a root-relative URL (which includes the base path)."""
    assert url.startswith(base_path), f"{url} is outside {base_path}"
    rel = url[len(base_path):].split("#")[0]
    if rel == "" or rel.endswith("/"):
        rel += "index.html"
    return output / rel


def parse_html(path: Path) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(path.read_bytes())


def page(output: Path, url: str, base_path: str = "/") -> lxml.html.HtmlElement:
    """The parsed HTML page at a URL; fails if the build did not write it."""
    path = output_file(output, url, base_path)
    assert path.is_file(), f"no page at {url} ({path})"
    return parse_html(path)


def parse_xml(path: Path) -> lxml.etree._Element:
    assert path.is_file(), f"{path} was not written"
    return lxml.etree.fromstring(path.read_bytes())


def is_redirect(doc: lxml.html.HtmlElement) -> bool:
    return bool(doc.xpath("//meta[translate(@http-equiv, 'REFRESH', 'refresh')='refresh']"))


def html_pages(output: Path) -> Iterator[tuple[str, lxml.html.HtmlElement]]:
    """Every HTML file of the output: (path relative to the output, parsed document)."""
    for path in sorted(output.rglob("*.html")):
        yield path.relative_to(output).as_posix(), parse_html(path)


def url_of(rel: str, base_path: str = "/") -> str:
    """'posts/x/index.html' -> '/posts/x/'."""
    return base_path + (rel[: -len("index.html")] if rel.endswith("index.html") else rel)


def post_links(doc: lxml.html.HtmlElement, prefix: str = "/posts/") -> list[str]:
    """Links to posts inside <main>, without repeats, in document order."""
    pattern = re.compile(rf"^{re.escape(prefix)}[^/#?]+/$")
    seen: dict[str, None] = {}
    for href in doc.xpath("//main//a/@href"):
        if pattern.match(href):
            seen.setdefault(href, None)
    return list(seen)


def pager_links(doc: lxml.html.HtmlElement, rel: str) -> set[str]:
    """hrefs of the page's rel=prev / rel=next links (in the pager or in <head>)."""
    return set(doc.xpath(f"//a[@rel='{rel}']/@href | //link[@rel='{rel}']/@href"))


def walk_listing(output: Path, first_url: str, base_path: str = "/"
                 ) -> list[tuple[str, lxml.html.HtmlElement]]:
    """Follow rel=next from the first page of a listing: [(url, document), ...]."""
    pages: list[tuple[str, lxml.html.HtmlElement]] = []
    url: str | None = first_url
    while url is not None:
        assert url not in [u for u, _ in pages], f"pagination loops back to {url}"
        doc = page(output, url, base_path)
        pages.append((url, doc))
        nexts = pager_links(doc, "next")
        assert len(nexts) <= 1, f"{url} has several different next links: {nexts}"
        url = nexts.pop() if nexts else None
    return pages


def fragment_links(html_text: str) -> list[str]:
    """Every href and src in an HTML fragment (as found inside a feed)."""
    if not html_text.strip():
        return []
    root = lxml.html.fragment_fromstring(html_text, create_parent="div")
    return [str(v) for v in root.xpath(".//@href | .//@src")]


def mailto_reply(doc: lxml.html.HtmlElement) -> list[str]:
    """hrefs of "Reply by email" links: mailto: links carrying a subject."""
    return [str(h) for h in doc.xpath("//a[starts-with(@href, 'mailto:')]/@href")
            if "subject=" in h]
