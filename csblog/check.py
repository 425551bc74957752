"""`csblog check`: find what readers would trip over, without writing the site.

Builds the site in memory and looks at the result: links and images that lead nowhere, images
without alt text, duplicate titles and slugs, essays that will be left out (drafts and future
dates), essays whose "Reply by email" has no address, and, when asked, external links that fail.
"""

from __future__ import annotations

import posixpath
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import csblog
from csblog.build import BuildOptions, load_site, static_copies
from csblog.errors import Problem
from csblog.feeds import feed_files
from csblog.page_rendering import PageRenderer, reply_link
from csblog.posts import Page, Post
from csblog.urls import output_file

USER_AGENT = f"csblog-check/{csblog.__version__}"


@dataclass(frozen=True)
class CheckOptions:
    drafts: bool = False
    future: bool = False
    external: bool = False
    timeout: float = 10.0
    concurrency: int = 8


@dataclass
class CheckReport:
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pages: int = 0
    links: int = 0
    external_links: int = 0


class _LinkCollector(HTMLParser):
    """The links and images of one HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.images_without_alt: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")
        elif tag == "img":
            self.links.append(values.get("src") or "")
            if not (values.get("alt") or "").strip():
                self.images_without_alt.append(values.get("src") or "")


def collect(html: str) -> _LinkCollector:
    parser = _LinkCollector()
    parser.feed(html)
    parser.close()
    return parser


def check_site(site_dir: Path, options: CheckOptions = CheckOptions(),
               fetch: Callable[[str, float], str | None] | None = None) -> CheckReport:
    """Check the site in `site_dir`. Content errors raise BuildFailed, as a build would."""
    loaded = load_site(site_dir, BuildOptions(drafts=options.drafts, future=options.future))
    config, site = loaded.config, loaded.site
    report = CheckReport(warnings=list(loaded.warnings))
    base = config.base_path

    # every file the build would write, as site paths
    renderer = PageRenderer(site, config, loaded.theme)
    pages = list(renderer.pages())
    files = {page.path for page in pages}
    files |= {page.path for page in feed_files(site, config)}
    files |= {copy.path for copy in static_copies(config, loaded.sources, site)}
    report.pages = sum(1 for p in pages if p.path.endswith(".html"))

    owners = {output_file(p.path): p.source for p in site.posts}
    owners.update({output_file(p.path): p.source for p in site.pages})
    external: dict[str, set[str]] = defaultdict(set)
    for page in pages:
        where = owners.get(page.path, page.path)
        found = collect(page.data.decode("utf-8"))
        for link in found.links:
            report.links += 1
            parts = urlsplit(link)
            if parts.scheme in ("http", "https"):
                if parts.netloc == urlsplit(config.base_url).netloc and parts.path.startswith(
                        base):
                    _check_internal(parts.path, base, files, where, report)
                elif where in owners.values():
                    external[link].add(where)
            elif not parts.scheme and parts.path.startswith("/"):
                _check_internal(parts.path, base, files, where, report)
            elif not parts.scheme and parts.path and not parts.netloc:
                page_dir = posixpath.dirname("/" + base.strip("/") + "/" + page.path)
                resolved = posixpath.normpath(posixpath.join(page_dir, parts.path))
                _check_internal(resolved + ("/" if parts.path.endswith("/") else ""), base,
                                files, where, report)
    documents: list[Post | Page] = [*site.posts, *site.pages]
    for item in documents:
        for src in collect(str(item.content)).images_without_alt:
            report.errors.append(Problem(
                f"the image '{src}' has no alt text", item.source,
                hint="describe the image for readers who cannot see it: ![what it shows](file)"))

    _duplicates(site.posts, report)
    for source, why in site.left_out.sources:
        report.notes.append(f"{source} will be left out: {why}")
    _reply_addresses(site.posts, config.email, report)
    if options.external:
        _check_external(external, options, fetch or fetch_status, report)
    return report


def _check_internal(path: str, base: str, files: set[str], where: str,
                    report: CheckReport) -> None:
    if not path.startswith(base):
        report.errors.append(Problem(f"the link '{path}' leads outside the site's base path "
                                     f"{base}", where))
        return
    rel = output_file("/" + unquote(path[len(base):]))
    if rel not in files:
        report.errors.append(Problem(f"the link '{path}' leads to a page or file that does "
                                     "not exist", where,
                                     hint="check the address; links to essays look like "
                                          "[text](other-essay.md)"))


def _duplicates(posts: Iterable[Post], report: CheckReport) -> None:
    by_title: dict[str, list[str]] = defaultdict(list)
    by_slug: dict[str, list[str]] = defaultdict(list)
    for post in posts:
        by_title[post.title.casefold()].append(post.source)
        by_slug[post.slug].append(post.source)
    for title, sources in sorted(by_title.items()):
        if len(sources) > 1:
            report.warnings.append(Problem(
                f"{len(sources)} essays have the title \"{title}\": {', '.join(sources)}",
                sources[0], hint="readers tell essays apart by their titles"))
    for slug, sources in sorted(by_slug.items()):
        if len(sources) > 1:
            report.warnings.append(Problem(
                f"{len(sources)} essays have the slug '{slug}': {', '.join(sources)}",
                sources[0], hint="give one of them its own 'slug'"))


def _reply_addresses(posts: Iterable[Post], site_email: str, report: CheckReport) -> None:
    warned: set[str] = set()
    for post in posts:
        if not post.comments_enabled:
            continue
        if reply_link(post, site_email) is None:
            report.errors.append(Problem(
                "replies are on but there is no address to send them to", post.source,
                hint="set 'email' in csblog.toml, an email for the author, or 'comments: false'"))
        for author in post.authors:
            if not author.email and author.id not in warned:
                warned.add(author.id)
                report.warnings.append(Problem(
                    f"the author '{author.name}' has no email, so replies to their essays go "
                    f"to {post.reply_to or site_email or 'nobody'}", author.source or post.source,
                    hint="add 'email:' to the author's profile"))


def fetch_status(url: str, timeout: float) -> str | None:
    """None when the URL answers; otherwise what went wrong."""
    for method in ("HEAD", "GET"):
        request = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                return None
        except urllib.error.HTTPError as exc:
            if method == "HEAD" and exc.code in (403, 405, 501):
                continue  # some servers refuse HEAD: ask again with GET
            return f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return f"no answer ({reason})"
    return None


def _check_external(links: dict[str, set[str]], options: CheckOptions,
                    fetch: Callable[[str, float], str | None], report: CheckReport) -> None:
    urls = sorted(links)
    report.external_links = len(urls)
    with ThreadPoolExecutor(max_workers=max(1, options.concurrency)) as pool:
        results = list(pool.map(lambda url: fetch(url, options.timeout), urls))
    for url, failure in zip(urls, results, strict=True):
        if failure is not None:
            for source in sorted(links[url]):
                report.errors.append(Problem(f"the external link {url} fails: {failure}",
                                             source))
