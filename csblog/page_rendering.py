"""`Site` -> rendered HTML pages, through the theme's templates.

Templates see the documented view of the data (the theme API in the README), never the build's
internals.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar
from urllib.parse import quote

import jinja2
from markupsafe import Markup

import csblog
from csblog.bodies import current_store
from csblog.config import SiteConfig
from csblog.errors import CsblogError
from csblog.parallel import MAX_WORKERS, WORKERS_ENV, available_cpus, can_fork, ignore_interrupts
from csblog.posts import Author, Page, Post, Tag, post_digest
from csblog.site_model import Listing, Redirect, Site
from csblog.themes import Theme, make_environment, template_code_cache, template_error
from csblog.urls import (
    ARCHIVE_PATH,
    ATOM_PATH,
    AUTHORS_PATH,
    HOME_PATH,
    NOT_FOUND_PATH,
    RSS_PATH,
    TAGS_PATH,
    UrlScheme,
    output_file,
)

T = TypeVar("T")


@dataclass(frozen=True)
class RenderedPage:
    """One output file: its path relative to the output folder and its bytes, and the sources
    whose body (or word count) it shows (see bodies.BodyStore.reading)."""

    path: str
    data: bytes
    reads: tuple[str, ...] = ()


@dataclass(frozen=True)
class SiteView:
    """The `site` variable of every template."""

    title: str
    description: str
    language: str
    base_url: str
    base_path: str
    email: str
    timezone: str
    extra: Mapping[str, Any]
    author: Author | None
    menu: tuple[Page, ...]
    tags: tuple[Tag, ...]
    authors: tuple[Author, ...]
    home_url: str
    archive_url: str
    tags_url: str
    authors_url: str
    feed_url: str
    atom_url: str
    post_count: int
    generator: str


@dataclass(frozen=True)
class Reply:
    """The "Reply by email" link of a post."""

    url: str
    email: str
    subject: str


def reply_link(post: Post, site_email: str) -> Reply | None:
    """A mailto: link (RFC 6068) to the post's reply_to, its first author's email or the site's."""
    if not post.comments_enabled:
        return None
    email = post.reply_to or next((a.email for a in post.authors if a.email), "") or site_email
    if not email:
        return None
    subject = f"Re: {post.title} [{post.id}]"
    # RFC 6068: percent-encode everything outside unreserved characters, in UTF-8
    url = f"mailto:{quote(email, safe='@')}?subject={quote(subject, safe='')}"
    return Reply(url=url, email=email, subject=subject)


def json_ld(post: Post, config: SiteConfig, urls: UrlScheme) -> Markup:
    """A BlogPosting JSON-LD element, safe to print inside <head>."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "headline": post.title,
        "description": post.description,
        "datePublished": post.date.isoformat(),
        "dateModified": (post.updated or post.date).isoformat(),
        "url": post.abs_url,
        "mainEntityOfPage": post.abs_url,
        "wordCount": post.word_count,
        "keywords": [t.name for t in post.tags],
        "author": [{"@type": "Person", "name": a.name, "url": a.abs_url} for a in post.authors],
        "publisher": {"@type": "Organization", "name": config.title, "url": config.base_url},
    }
    if post.image:
        data["image"] = post.image if "://" in post.image else config.origin + post.image
    text = json.dumps(data, ensure_ascii=False, sort_keys=False)
    # nothing in the data can close the element or open a comment
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(f'<script type="application/ld+json">{text}</script>')


class PageRenderer:
    """Renders every HTML page of a site with one Jinja environment."""

    def __init__(self, site: Site, config: SiteConfig, theme: Theme,
                 post_digests: Mapping[str, str] | None = None, links_key: str = "") -> None:
        self.site = site
        self.post_digests = post_digests or {}  # source -> post_digest of the site's Post
        self.links_key = links_key  # links_digest(site), when known
        self.config = config
        self.urls = UrlScheme(config.base_path, config.origin)
        self.env = make_environment(theme, config, self._asset_url, self._asset_abs_url)
        # templates do not change during a build: no stat() of every template at every include
        self.env.auto_reload = False
        self.env.bytecode_cache = template_code_cache(config.site_dir / ".csblog-cache" /
                                                      "templates")
        self.view = SiteView(
            title=config.title,
            description=config.description,
            language=config.language,
            base_url=config.base_url,
            base_path=config.base_path,
            email=config.email,
            timezone=config.timezone,
            extra=config.extra,
            author=site.default_author,
            menu=tuple(p for p in site.pages if p.menu),
            tags=site.tags,
            authors=site.authors,
            home_url=self.urls.url(HOME_PATH),
            archive_url=self.urls.url(ARCHIVE_PATH),
            tags_url=self.urls.url(TAGS_PATH),
            authors_url=self.urls.url(AUTHORS_PATH),
            feed_url=self.urls.url(RSS_PATH),
            atom_url=self.urls.url(ATOM_PATH),
            post_count=len(site.posts),
            generator=f"csblog {csblog.__version__}",
        )
        self._templates: dict[str, jinja2.Template] = {}
        self._digests: dict[int, str] = {}  # id of a site object -> digest (the site is fixed)
        self._base = ""
        self._everything = ""  # the digest of every post, for the archive

    def _asset_url(self, path: str) -> str:
        return self.urls.url("/" + path.lstrip("/"))

    def _asset_abs_url(self, path: str) -> str:
        return self.urls.abs_url("/" + path.lstrip("/"))

    def _template(self, name: str) -> jinja2.Template:
        if name not in self._templates:
            try:
                self._templates[name] = self.env.get_template(name)
            except jinja2.TemplateError as exc:
                raise template_error(exc, name, self.config.site_dir) from None
        return self._templates[name]

    def render(self, template: str, site_path: str, kind: str, **context: Any) -> RenderedPage:
        try:
            html = self._template(template).render(
                site=self.view,
                page_url=self.urls.url(site_path),
                canonical_url=self.urls.abs_url(site_path),
                page_kind=kind,
                **context,
            )
        except jinja2.TemplateError as exc:
            raise template_error(exc, template, self.config.site_dir,
                                 sys.exc_info()[2]) from None
        return RenderedPage(output_file(site_path), html.encode("utf-8"))

    def post_page(self, post: Post) -> RenderedPage:
        newer, older = self.site.neighbours[post.id]
        return self.render(
            "post.html", post.path, "post",
            post=post,
            newer_post=newer,
            older_post=older,
            related_posts=self.site.related[post.id],
            comments=self.site.comments[post.id],
            reply=reply_link(post, self.config.email),
            json_ld=json_ld(post, self.config, self.urls),
        )

    def listing_page(self, listing: Listing) -> RenderedPage:
        context: dict[str, Any] = {"posts": listing.posts, "paginator": listing.paginator}
        if listing.kind == "home":
            return self.render("index.html", listing.path, "home", **context)
        if listing.kind == "tag":
            return self.render("tag.html", listing.path, "tag", tag=listing.tag, **context)
        return self.render("author.html", listing.path, "author", author=listing.author,
                           **context)

    def _page_specs(self) -> list[tuple[str, tuple[Any, ...]]]:
        """Every HTML page of the site as (method name, arguments), in output order."""
        site = self.site
        specs: list[tuple[str, tuple[Any, ...]]] = [("post_page", (post,)) for post in site.posts]
        specs += [("_page", (page,)) for page in site.pages]
        specs += [("listing_page", (listing,)) for listing in site.listings]
        specs += [("_index", (name,)) for name in ("tags", "authors", "archive", "404")]
        specs += [("_redirect", (redirect,)) for redirect in site.redirects]
        return specs

    def _page(self, page: Page) -> RenderedPage:
        return self.render("page.html", page.path, "page", page=page)

    def _index(self, name: str) -> RenderedPage:
        site = self.site
        if name == "tags":
            return self.render("tags.html", TAGS_PATH, "tags", tags=site.tags)
        if name == "authors":
            return self.render("authors.html", AUTHORS_PATH, "authors", authors=site.authors)
        if name == "archive":
            return self.render("archive.html", ARCHIVE_PATH, "archive", archive=site.archive)
        return self.render("404.html", NOT_FOUND_PATH, "404")

    def _redirect(self, redirect: Redirect) -> RenderedPage:
        return self.render("redirect.html", redirect.path, "redirect",
                           target_url=redirect.target_url)

    def _render_spec(self, spec: tuple[str, tuple[Any, ...]]) -> RenderedPage:
        method, args = spec
        with current_store().reading() as reads:
            page: RenderedPage = getattr(self, method)(*args)
        return dataclasses.replace(page, reads=tuple(sorted(reads)))

    def digest(self, obj: object) -> str:
        """A hash of everything a template can see of one object (a post, a listing...) but
        the bodies of posts: which bodies a page shows is noted as it is rendered."""
        if obj is None:
            return "-"
        found = self._digests.get(id(obj))
        if found is None:
            if isinstance(obj, Post):
                found = self.post_digests.get(obj.source) or post_digest(obj)
            else:
                found = _hash(repr(obj))
            self._digests[id(obj)] = found
        return found

    def base_key(self) -> str:
        """What every page depends on: csblog, the config, the site view, the templates, and
        the URLs the links in bodies resolve to."""
        if not self._base:
            links = self.links_key or links_digest(self.site)
            self._base = _hash(repr((csblog.__version__, self.config, self.view,
                                     _templates_hash(self.env), links)))
        return self._base

    def plan_key(self, model_key: str) -> str:
        """The key of a page plan: the site model (by its key) and what every page sees. While
        it is the same, so is every page's structural key."""
        return _hash(f"{model_key}\0{self.base_key()}")

    def key_of(self, kind: str, path: str, posts: Iterable[Post], extra: str = "") -> str:
        """The dependency key of an output file made of `posts` and `extra` (a feed...)."""
        return _hash("\0".join([self.base_key(), kind, path, extra,
                                *(self.digest(p) for p in posts)]))

    def page_jobs(self) -> list[PageJob]:
        """Every HTML page, in the order of `pages()`, without rendering it."""
        jobs: list[PageJob] = []
        for spec in self._page_specs():
            method, (item,) = spec
            if method == "_index":
                path = {"tags": TAGS_PATH, "authors": AUTHORS_PATH, "archive": ARCHIVE_PATH,
                        "404": NOT_FOUND_PATH}[item]
            else:
                path = item.path
            jobs.append(PageJob(output_file(path), spec))
        return jobs

    def job_key(self, job: PageJob) -> str:
        """The page's structural key: it changes whenever anything the page can show may
        have changed, but the bodies of posts. That is its own objects and every object it is
        given (neighbours, related essays, the posts of a listing), the site-wide view every
        template receives, the configuration, the templates and the csblog version.

        Together with the keys of the bodies it showed (`RenderedPage.reads`) it decides
        whether a page must be rendered again: the same structural key and the same bodies
        give the same bytes.
        """
        digest = self.digest
        site = self.site
        method, (item,) = job.spec
        if method == "post_page":
            newer, older = site.neighbours[item.id]
            parts = [digest(item), digest(newer), digest(older),
                     *(digest(p) for p in site.related[item.id]),
                     repr(site.comments[item.id])]
        elif method == "listing_page":
            parts = [repr((item.kind, item.path, item.paginator, item.tag, item.author)),
                     *(digest(p) for p in item.posts)]
        elif method == "_index":
            if item == "archive" and not self._everything:
                self._everything = _hash("".join(digest(p) for p in site.posts))
            parts = [item, self._everything if item == "archive" else ""]
        else:  # a page or a redirect: everything it shows is in its own object
            parts = [repr(item)]
        return _hash("\0".join([self.base_key(), method, *parts]))

    def render_job(self, job: PageJob) -> RenderedPage:
        return self._render_spec(job.spec)

    def render_jobs(self, jobs: list[PageJob], finish: Callable[[RenderedPage], T],
                    workers: int | None = None) -> Generator[T, None, None]:
        """`finish(page)` for the page of each job, in order (rendered as `pages` renders
        them). `finish` runs where the page was rendered, perhaps a forked worker (it may
        write the page there: what it returns is all that comes back)."""
        return self._render_specs([job.spec for job in jobs], workers, finish)

    def pages(self, workers: int | None = None) -> Iterator[RenderedPage]:
        """Every HTML page of the site, in a fixed order."""
        return self._render_specs(self._page_specs(), workers, _same)

    def _render_specs(self, specs: list[tuple[str, tuple[Any, ...]]], workers: int | None,
                      finish: Callable[[RenderedPage], T]) -> Generator[T, None, None]:
        """On a big site the pages are rendered by forked worker processes, which inherit the
        site and the compiled templates instead of receiving them; the pages come back in the
        same order and with the same bytes as from one process.
        """
        count = page_workers(len(specs)) if workers is None else max(1, workers)
        if count > 1 and can_fork():
            yield from _render_forked(self, specs, count, finish)
        else:
            for spec in specs:
                yield finish(self._render_spec(spec))


class PageJob(NamedTuple):
    """A page to render: its output path and how to render it. (A named tuple: a build makes
    one for every page, 15,000 at 10,000 essays, and most are kept, not rendered.)"""

    path: str
    spec: tuple[str, tuple[Any, ...]]


def _hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


def links_digest(site: Site) -> str:
    """A hash of the URLs links in bodies resolve to (sorting 10,000 of them costs 20 ms: it is
    saved with the site model)."""
    return _hash(repr(sorted(site.link_targets.items())))


def _templates_hash(env: jinja2.Environment) -> str:
    """The text of every template the environment can load."""
    parts = []
    for name in sorted(env.list_templates()):
        source, filename, _ = env.loader.get_source(env, name) if env.loader else ("", "", None)
        parts.append(f"{name}\0{filename}\0{source}")
    return _hash("\0".join(parts))


# --- rendering in forked workers -------------------------------------------------------------

# below this many pages per worker a fork did not pay in our measurements (a page takes ~1 ms)
MIN_PAGES_PER_WORKER = 1000
_CHUNK = 50
_forked: tuple[PageRenderer, list[tuple[str, tuple[Any, ...]]], Callable[[RenderedPage], Any]
              ] | None = None


def _same(page: RenderedPage) -> RenderedPage:
    return page


def page_workers(pages: int) -> int:
    wanted = os.environ.get(WORKERS_ENV, "").strip()
    if wanted.isdigit() and int(wanted) > 0:
        return int(wanted)
    return max(1, min(available_cpus(), MAX_WORKERS, pages // MIN_PAGES_PER_WORKER))


def _render_chunk(bounds: tuple[int, int]) -> list[Any] | None:
    assert _forked is not None
    renderer, specs, finish = _forked
    try:
        return [finish(renderer._render_spec(specs[i])) for i in range(*bounds)]
    except CsblogError:
        return None  # the parent renders this chunk again and raises the error itself


def _render_forked(renderer: PageRenderer, specs: list[tuple[str, tuple[Any, ...]]],
                   workers: int, finish: Callable[[RenderedPage], T]
                   ) -> Generator[T, None, None]:
    global _forked
    if specs:  # compiles the templates once, before the fork
        yield finish(renderer._render_spec(specs[0]))
    bounds = [(i, min(i + _CHUNK, len(specs))) for i in range(1, len(specs), _CHUNK)]
    _forked = (renderer, specs, finish)
    try:
        import multiprocessing

        context = multiprocessing.get_context("fork")
        with context.Pool(min(workers, max(1, len(bounds))),
                          initializer=ignore_interrupts) as pool:
            for chunk, done in zip(bounds, pool.imap(_render_chunk, bounds), strict=True):
                if done is None:
                    done = [finish(renderer._render_spec(specs[i])) for i in range(*chunk)]
                yield from done
    finally:
        _forked = None
