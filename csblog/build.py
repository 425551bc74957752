"""`build(site_dir, options) -> BuildReport`: the pipeline, in order, and nothing else.

discover -> parse (front matter + Markdown) -> site model -> render pages and feeds -> write.
Everything is read and rendered before anything is written, so a build that fails leaves the
previous output as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import csblog
from csblog.bodies import BodyStore, current_store, use_store
from csblog.cache import (
    BuildStamp,
    PagePlan,
    ParsedSource,
    SourceIndex,
    body_fetcher,
    cache_key,
    forget_stamp,
    input_state,
    is_current,
    load_model,
    load_page_plan,
    load_shelf,
    load_source_index,
    load_stamp,
    open_cache,
    save_model,
    save_page_plan,
    save_shelf,
    save_source_index,
    save_stamp,
    settings_fingerprint,
    source_index_key,
)
from csblog.config import SiteConfig, load_config
from csblog.discovery import SiteSources, SourceFile, discover, read_source, walk_files
from csblog.errors import CsblogError, Problem
from csblog.feeds import FeedJob, feed_jobs
from csblog.markdown_rendering import MarkdownRenderer, ReplyRenderer, resolve_links
from csblog.output_writing import (
    CACHE_DIR,
    CopiedFile,
    OutputWriter,
    WriteReport,
    check_output_dir,
    copy_problems,
    output_is_intact,
    recover_leftovers,
)
from csblog.page_rendering import PageRenderer, links_digest
from csblog.parallel import (
    MadePost,
    ParseResult,
    PostMaking,
    make_parsed_post,
    parse_files,
    parse_source,
)
from csblog.posts import (
    Author,
    Comment,
    ContentSettings,
    Page,
    Post,
    make_author,
    make_comment,
    make_page,
    make_post,
    post_digest,
    split_front_matter,
)
from csblog.site_model import BuildFlags, LeftOut, Site, build_site
from csblog.themes import Theme, find_theme

# an input modified this close to the moment its stat was taken may change again within the
# same timestamp tick unseen (as git's "racy clean" files): its stat is not trusted later
RACY_NS = 100_000_000
_BATCH = 500  # cache entries read or written at a time


@dataclass(frozen=True)
class BuildOptions:
    drafts: bool = False
    future: bool = False
    base_url: str | None = None
    output_dir: str | None = None


@dataclass(frozen=True)
class BuildReport:
    output: Path
    posts: int
    pages: int
    tags: int
    files: WriteReport
    left_out: LeftOut
    seconds: float
    warnings: tuple[Problem, ...] = ()
    parsed: int = 0  # sources whose Markdown was rendered in this build
    reused: int = 0  # sources taken from the cache or the source index
    rendered: int = 0  # pages and feeds rendered (the rest were kept without rendering)


class BuildFailed(CsblogError):
    """Content or config errors; carries the warnings found on the way too."""

    warnings: tuple[Problem, ...] = ()


@dataclass
class ParsedContent:
    post_sources: list[str] = field(default_factory=list)  # the posts that parsed, in order
    made: dict[str, Post] = field(default_factory=dict)  # posts made in this build, by source
    pages: list[Page] = field(default_factory=list)
    authors: list[Author] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    cache_hits: int = 0  # sources whose front matter and Markdown came from the cache
    rendered: int = 0  # sources parsed and rendered in this build
    body_keys: dict[str, str] = field(default_factory=dict)  # post source -> its body's key
    bodies: dict[str, str] = field(default_factory=dict)  # key -> HTML, when there is no cache
    words: dict[str, int] = field(default_factory=dict)  # post source -> words in its body
    cards: dict[str, str] = field(default_factory=dict)  # post source -> digest of its Post
    due: dict[str, tuple[float, bool, bool]] = field(default_factory=dict)
    # post source -> (its date as POSIX time, future, draft): when a left-out post falls due
    cached: bool = False  # the bodies are in the cache (else in `bodies`)
    shelf: str = ""  # names the posts that parsed and their digests, once known (_shelf_id)
    # the Posts of the source index, by source: loaded only when asked for (see `posts`)
    shelved: Callable[[list[str]], dict[str, Post]] | None = None
    _posts: list[Post] | None = None

    @property
    def posts(self) -> list[Post]:
        """Every post that parsed, in source order. The model of a build in which no post
        changed is reused, and then these are not needed: those the source index knows are
        unpickled at the first use."""
        if self._posts is None:
            known = [rel for rel in self.post_sources if rel not in self.made]
            shelf = self.shelved(known) if known and self.shelved else {}
            self._posts = [self.made.get(rel) or shelf[rel] for rel in self.post_sources]
        return self._posts


def content_settings(config: SiteConfig, now: datetime | None = None) -> ContentSettings:
    return ContentSettings(
        tz=config.tz,
        post_permalink=config.post_permalink,
        unicode_slugs=config.unicode_slugs,
        comments=config.comments,
        toc_min_headings=config.toc_min_headings,
        default_author=config.author,
        base_path=config.base_path,
        origin=config.origin,
        now=now or datetime.now(UTC),
    )


def parse_sources(sources: SiteSources, config: SiteConfig, settings: ContentSettings,
                  problems: list[Problem], warnings: list[Problem],
                  progress: Callable[[int, int, str], None] | None = None,
                  workers: int | None = None, use_cache: bool = True) -> ParsedContent:
    """Read and parse every Markdown source; a broken file adds problems and is skipped.

    Three ways to a source's result, cheapest first, each giving what parsing would give:
    - the source index (what the last build made of each source): a file whose size and
      modification time are as recorded has the recorded text key; a post whose key is the
      recorded one is as recorded (its digest, word count, warnings), unless its `future` flag
      changed with the time. Nothing is read; its Post is unpickled only if asked for.
    - the parse cache: front matter and Markdown of a text seen before, by key.
    - parsing, in a process pool when there are enough sources (`workers`: None chooses from
      their number), with the workers reading the files themselves.
    Results are taken one at a time, so neither texts nor bodies pile up in memory.
    """
    parsed = ParsedContent()
    rendered_sources = (*sources.posts, *sources.pages, *sources.authors)
    total = len(rendered_sources) + len(sources.comments)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total, "reading essays")

    cache_dir = config.site_dir / CACHE_DIR
    cache = open_cache(cache_dir, config.markdown) if use_cache else None
    fingerprint = cache.fingerprint if cache else settings_fingerprint(config.markdown)
    index_key = source_index_key(fingerprint, settings)
    index = load_source_index(cache_dir, index_key) if cache else None
    # the stats were taken during discovery: a file touched since may be newer than recorded
    new_index = SourceIndex(index_key, sources.taken_ns or time.time_ns())
    post_rels = {source.rel for source in sources.posts}
    now = settings.now.timestamp()
    outcomes: dict[str, ParseResult] = {}  # pages and authors (few), and unreadable files
    # post source -> (its problems, its warnings), for those made or known
    verdicts: dict[str, tuple[Sequence[Problem], Sequence[Problem]]] = {}

    making = PostMaking(frozenset(post_rels), settings, keep_html=cache is None)

    def take(source: SourceFile, key: str, outcome: ParseResult | MadePost) -> None:
        """Keep what later stages need of one result; a post's body stays in the cache."""
        if isinstance(outcome, ParsedSource) and source.rel in post_rels:
            outcome = make_parsed_post(outcome, making)
        if not isinstance(outcome, MadePost):
            outcomes[source.rel] = outcome
            return
        post, own_problems, own_warnings, words, card, html = outcome
        verdicts[source.rel] = (own_problems, own_warnings)
        if cache is None:
            parsed.bodies[key] = html
        if own_problems:
            return
        parsed.made[source.rel] = post
        parsed.body_keys[source.rel] = key
        parsed.words[source.rel] = words
        parsed.cards[source.rel] = card
        parsed.due[source.rel] = due = (post.date.timestamp(), post.future, post.draft)
        if cache is not None:
            new_index.posts[source.rel] = (key, own_warnings, words, card, *due)

    # 1. every source's key: from the index when the file is as recorded, else from its text;
    # with nothing to look the text up in (a first build), the workers read, key and parse it
    keys: dict[str, str] = {}
    blind = index is None and (cache is None or cache.is_empty())
    unread: dict[str, tuple[int, int] | None] = {}  # source -> its stat, read by a worker
    files = index.files if index else {}
    trusted_before = index.taken_ns - RACY_NS if index else 0
    for source in rendered_sources:
        stat = (source.size, source.mtime_ns) if source.mtime_ns >= 0 else None
        known = files.get(source.rel)
        if (known is not None and known[0] == source.size and known[1] == source.mtime_ns
                and source.mtime_ns < trusted_before):
            keys[source.rel] = known[2]
            new_index.files[source.rel] = known  # (the very record: nothing to make)
            continue
        if blind:
            unread[source.rel] = stat
            continue
        try:
            keys[source.rel] = cache_key(fingerprint, source.rel, read_source(source))
        except CsblogError as exc:
            outcomes[source.rel] = tuple(exc.problems)
            tick()
            continue
        if stat is not None:
            new_index.files[source.rel] = (*stat, keys[source.rel])

    # 2. posts the index knows with this very text (and whose time has not come since)
    known_posts = index.posts if index else {}
    rest: list[SourceFile] = []
    misses: list[SourceFile] = [source for source in rendered_sources if source.rel in unread]
    for source in rendered_sources:
        key = keys.get(source.rel)
        if key is None:
            continue
        entry = known_posts.get(source.rel)
        if entry is not None and entry[0] == key and entry[5] == (entry[4] > now):
            rel = source.rel
            _, post_warnings, words, card, date, future, draft = entry
            verdicts[rel] = ((), post_warnings)
            parsed.body_keys[rel] = key
            parsed.words[rel] = words
            parsed.cards[rel] = card
            parsed.due[rel] = (date, future, draft)
            new_index.posts[rel] = entry
            parsed.cache_hits += 1
            if progress is not None:
                tick()
        else:
            rest.append(source)

    # 3. the parse cache, in batches; 4. parsing what it does not have
    try:
        if cache is not None:
            cache.use(keys.values())
            for start in range(0, len(rest), _BATCH):
                batch = rest[start : start + _BATCH]
                found = cache.get_many(keys[s.rel] for s in batch)
                for source in batch:
                    found_entry = found.pop(keys[source.rel], None)
                    if found_entry is None:
                        misses.append(source)
                    else:
                        take(source, keys[source.rel], found_entry)
                        tick()
            parsed.cache_hits += cache.hits
        else:
            misses += rest
        fresh: dict[str, bytes] = {}
        # made when something is to be parsed or these settings never built (it costs 40 ms);
        # it checks the extensions before a worker process finds them broken
        renderer = MarkdownRenderer(config.markdown) if misses or index is None else None
        results = parse_files(misses, config.markdown, fingerprint, workers, renderer, making)
        for source, (key, outcome, blob) in zip(misses, results, strict=True):
            if not key:  # could not be read after all
                outcomes[source.rel] = outcome  # type: ignore[assignment]
            else:
                take(source, key, outcome)
                if (stat_of := unread.get(source.rel)) is not None:
                    new_index.files[source.rel] = (*stat_of, key)
                if cache is not None and blob:
                    fresh[key] = blob
                    if len(fresh) >= _BATCH:
                        cache.put_many(fresh)
                        fresh.clear()
            tick()
        if cache is not None:
            cache.put_many(fresh)
        parsed.rendered = len(misses)
    finally:
        if cache is not None:
            cache.close()
    parsed.cached = cache is not None

    def result(source: SourceFile) -> ParsedSource | None:
        outcome = outcomes.get(source.rel)
        if isinstance(outcome, ParsedSource):
            return outcome
        if outcome is not None:
            problems.extend(outcome)
        return None

    for source in sources.posts:
        if source.rel in verdicts:
            own_problems, own_warnings = verdicts[source.rel]
            problems.extend(own_problems)
            warnings.extend(own_warnings)
            if source.rel in parsed.cards:
                parsed.post_sources.append(source.rel)
        else:
            result(source)
    for source in sources.pages:
        if (entry_of := result(source)) is not None:
            parsed.pages.append(make_page(entry_of.document, entry_of.rendered, settings,
                                          problems, warnings))
    for source in sources.authors:
        if (entry_of := result(source)) is not None:
            parsed.authors.append(make_author(entry_of.document, entry_of.rendered.html,
                                              settings, problems))
    replies = ReplyRenderer() if sources.comments else None
    for index_number, source in enumerate(sources.comments, 1):
        tick()
        try:
            doc = split_front_matter(read_source(source), source.rel)
        except CsblogError as exc:
            problems.extend(exc.problems)
            continue
        assert replies is not None
        parsed.comments.append(make_comment(doc, replies.render(doc.body), index_number,
                                            settings, problems))
    parsed.shelved = partial(_shelved_posts, cache_dir, index, parsed, sources.posts, config,
                             settings)
    if cache is None or problems:
        return parsed
    new_index.shelf = parsed.shelf = _shelf_id(parsed)
    if index is None or new_index.shelf != index.shelf:
        save_shelf(cache_dir, new_index.shelf, {p.source: p for p in parsed.posts})
    save_source_index(cache_dir, new_index)
    return parsed


def _shelf_id(parsed: ParsedContent) -> str:
    """Names the set of Posts: the same sources with the same digests, the same id."""
    digest = hashlib.sha256()
    for rel in parsed.post_sources:
        digest.update(f"{rel}\0{parsed.cards[rel]}\0".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _shelved_posts(cache_dir: Path, index: SourceIndex | None, parsed: ParsedContent,
                   post_files: Sequence[SourceFile], config: SiteConfig,
                   settings: ContentSettings, wanted: list[str]) -> dict[str, Post]:
    """The Posts the last build made of these sources, which the source index vouched for.

    They are on the shelf the index names; if it is gone or damaged, they are made again from
    the parse cache (or, failing that, by parsing the files), as they were made before.
    """
    shelf = load_shelf(cache_dir, index.shelf) if index is not None else None
    found = {rel: shelf[rel] for rel in wanted if shelf is not None and rel in shelf}
    lost = [rel for rel in wanted if rel not in found]
    if lost:
        cache = open_cache(cache_dir, config.markdown)
        entries = cache.get_many(parsed.body_keys[rel] for rel in lost) if cache else {}
        if cache is not None:
            cache.close()
        renderer: list[MarkdownRenderer] = []
        paths = {source.rel: source for source in post_files}
        for rel in lost:
            entry = entries.get(parsed.body_keys[rel])
            if entry is None:
                renderer = renderer or [MarkdownRenderer(config.markdown)]
                outcome = parse_source(renderer[0], rel, read_source(paths[rel]))
                if not isinstance(outcome, ParsedSource):
                    raise BuildFailed.many(list(outcome))
                entry = outcome
            post = make_post(entry.document, entry.rendered, settings, [], [])
            assert post is not None
            found[rel] = post
    return found


def static_copies(config: SiteConfig, sources: SiteSources, site: Site) -> list[CopiedFile]:
    """Theme static files, then the site's static/ (which wins), then files beside content."""
    theme = find_theme(config)
    copies: list[CopiedFile] = []
    for folder in theme.static_dirs:
        for source in walk_files(folder, folder):
            copies.append(CopiedFile(source.path, source.rel, f"theme {theme.name}: {source.rel}"))
    for source in sources.static:
        copies.append(CopiedFile(source.path, source.rel.split("/", 1)[1], source.rel))
    for source in sources.content_assets:
        copies.append(CopiedFile(source.path, site.asset_paths[source.rel].lstrip("/"),
                                 source.rel))
    return copies


@dataclass(frozen=True)
class LoadedSite:
    """Everything read and modelled, nothing rendered or written yet."""

    config: SiteConfig
    theme: Theme
    sources: SiteSources
    site: Site
    warnings: tuple[Problem, ...]
    next_due: float | None = None  # when a post left out for its future date falls due
    parsed: int = 0
    reused: int = 0
    post_digests: Mapping[str, str] = field(default_factory=dict)  # source -> post_digest
    model_key: str = ""  # what the site model was made from ("" when not known)
    links_key: str = ""  # links_digest(site), saved with the model


def load_site(site_dir: Path, options: BuildOptions = BuildOptions(),
              progress: Callable[[int, int, str], None] | None = None,
              sources: SiteSources | None = None) -> LoadedSite:
    """Read the config and every source (those `sources` lists, when discovery was done
    already) and assemble the site model. Raises BuildFailed."""
    config, warnings = load_config(site_dir)
    config = config.with_overrides(options.base_url, options.output_dir)
    theme = find_theme(config)  # an unknown theme fails before any work
    sources = sources or discover(config.site_dir)
    problems: list[Problem] = list(sources.problems)
    settings = content_settings(config)
    parsed = parse_sources(sources, config, settings, problems, warnings, progress)
    flags = BuildFlags(drafts=options.drafts, future=options.future)
    assets = [s.rel for s in sources.content_assets]
    # the model depends on the Posts, never on their bodies: an edit of an essay's body that
    # leaves its title, summary, links, headings and reading time alone reuses the last model
    cache_dir = config.site_dir / CACHE_DIR
    model_key = _model_key(parsed, assets, settings, flags, config) if not problems else ""
    memo = load_model(cache_dir, model_key) if model_key and parsed.cached else None
    if memo is not None:
        site, model_warnings, post_digests, links_key = memo
        warnings.extend(model_warnings)
    else:
        model_warnings = []
        site = build_site(parsed.posts, parsed.pages, parsed.authors, parsed.comments, assets,
                          settings, flags, config.posts_per_page, config.related_posts, problems,
                          model_warnings)
        warnings.extend(model_warnings)
        _raise_if(problems, warnings)  # before any repr() of a post: a broken one may be huge
        post_digests = {post.source: post_digest(post) for post in site.posts}
        links_key = links_digest(site)
        if model_key and parsed.cached:
            save_model(cache_dir, model_key, (site, model_warnings, post_digests, links_key))
    _raise_if(problems, warnings)
    use_store(_body_store(parsed, sources, config, site))
    due = [date for date, future, draft in parsed.due.values()
           if future and not options.future and (options.drafts or not draft)]
    return LoadedSite(config, theme, sources, site, tuple(warnings), min(due, default=None),
                      parsed.rendered, parsed.cache_hits, post_digests,
                      model_key if parsed.cached else "", links_key)


def _model_key(parsed: ParsedContent, assets: list[str], settings: ContentSettings,
               flags: BuildFlags, config: SiteConfig) -> str:
    """Everything `build_site` reads: the Posts (by digest), pages, authors, replies, files
    beside the content, the settings but the time, the flags, and the model's code."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for name in ("site_model.py", "urls.py", "posts.py", "build.py"):
        with contextlib.suppress(OSError):
            digest.update((package / name).read_bytes())
    digest.update(repr((csblog.__version__, settings.without_time(), flags,
                        config.posts_per_page, config.related_posts, assets, parsed.pages,
                        parsed.authors, parsed.comments)).encode("utf-8", "surrogatepass"))
    digest.update(f"\0{parsed.shelf or _shelf_id(parsed)}".encode())  # the Posts, by digest
    return digest.hexdigest()


def _body_store(parsed: ParsedContent, sources: SiteSources, config: SiteConfig,
                site: Site) -> BodyStore:
    """Where the essays' bodies are fetched from while pages are rendered (see bodies.py)."""
    from_cache = body_fetcher(config.site_dir / CACHE_DIR) if parsed.cached else None
    memory = parsed.bodies
    renderer: list[MarkdownRenderer] = []
    origin: dict[str, SourceFile] = {}  # body key -> its source, made at the first miss

    def fetch(key: str) -> str:
        if key in memory:
            return memory[key]
        if from_cache is not None:
            with contextlib.suppress(KeyError, sqlite3.Error):
                return from_cache(key)
        # not in the cache after all (a write to it failed, or it was deleted): render again
        if not renderer:
            renderer.append(MarkdownRenderer(config.markdown))
            paths = {source.rel: source for source in sources.posts}
            origin.update((known, paths[rel]) for rel, known in parsed.body_keys.items())
        source = origin[key]
        parsed_source = parse_source(renderer[0], source.rel, read_source(source))
        assert isinstance(parsed_source, ParsedSource)
        return parsed_source.rendered.html

    targets, url = site.link_targets, content_settings(config).url

    def resolve(html: str, source: str) -> str:
        return resolve_links(html, targets.get, url)

    return BodyStore(parsed.body_keys, fetch, resolve, parsed.words)


def build(site_dir: Path, options: BuildOptions = BuildOptions(),
          progress: Callable[[int, int, str], None] | None = None) -> BuildReport:
    """Build the site in `site_dir`. Raises CsblogError (BuildFailed) with every problem found.

    When nothing the build reads has changed since the last build of the same output (by size
    and modification time of every input file, the flags, csblog's code), the output is as that
    build left it, and no future post has fallen due, nothing is read, rendered or written.
    """
    started = time.perf_counter()
    config, _ = load_config(site_dir)
    config = config.with_overrides(options.base_url, options.output_dir)
    output = config.output_path
    check_output_dir(output, config.site_dir)  # before any work: it is a usage mistake
    recover_leftovers(output)  # undo a build killed while moving files, even if this one fails
    cache_dir = config.site_dir / CACHE_DIR
    sources = discover(config.site_dir)
    stat_time = sources.taken_ns
    inputs, newest = input_state(config.site_dir, _option_texts(options, config), sources)
    stamp = load_stamp(cache_dir, output)
    if is_current(stamp, inputs, time.time()) and stamp is not None:
        files = output_is_intact(output, config.site_dir)
        if files is not None and (repeated := _report_from(stamp, output, files, started)):
            return repeated
    forget_stamp(cache_dir, output)
    # Loading makes hundreds of thousands of objects that live until the build ends and form
    # no cycles (the model, or the unpickled memo of it): the cycle collector would walk them
    # again and again for nothing. It is paused while they are made and then told to leave
    # them alone while pages are rendered; at 10,000 essays that was a third of an edit's build.
    gc.disable()
    try:
        loaded = load_site(site_dir, options, progress, sources)
    finally:
        gc.enable()
    gc.freeze()
    try:
        report, rendered = _render_and_write(loaded, output, cache_dir, progress)
    finally:
        gc.unfreeze()
    site = loaded.site
    result = BuildReport(
        output=output,
        posts=len(site.posts),
        pages=len(site.pages),
        tags=len(site.tags),
        files=report,
        left_out=site.left_out,
        seconds=time.perf_counter() - started,
        warnings=loaded.warnings,
        parsed=loaded.parsed,
        reused=loaded.reused,
        rendered=rendered,
    )
    if newest < stat_time - RACY_NS:
        save_stamp(cache_dir, output, BuildStamp(inputs, loaded.next_due, _report_data(result)))
    return result


def _render_and_write(loaded: LoadedSite, output: Path, cache_dir: Path,
                      progress: Callable[[int, int, str], None] | None
                      ) -> tuple[WriteReport, int]:
    """Render what changed since the last build into the output; keep the rest.

    A file is kept when the page plan says it was rendered from what it would be rendered from
    now (its structural key and the bodies it showed) and it is as that build left it.
    """
    config, site = loaded.config, loaded.site
    renderer = PageRenderer(site, config, loaded.theme, loaded.post_digests, loaded.links_key)
    bodies = current_store().keys
    plan = load_page_plan(cache_dir, output)
    plan_key = renderer.plan_key(loaded.model_key) if loaded.model_key else ""
    same_plan = bool(plan_key) and plan.key == plan_key
    new_plan = PagePlan(plan_key, bodies)
    files, stale = plan.files, plan.showing(plan.changed_bodies(bodies))

    def kept(path: str, key: Callable[[Any], str], of: Any) -> bool:
        """True when the file is kept: it was rendered from the structural key `key(of)` (the
        same as before when the plan is), it showed no body that changed, and it is as that
        build left it. Else its structural key is put in `todo_keys`."""
        known = files.get(path)
        structural = known[0] if same_plan and known is not None else key(of)
        if (known is not None and known[0] == structural and path not in stale
                and keep(path)):
            new_plan.files[path] = known
            return True
        todo_keys[path] = structural
        return False

    def feed_key(feed: FeedJob) -> str:
        return renderer.key_of("feed", feed.path, feed.posts, feed.extra)

    todo_keys: dict[str, str] = {}
    with OutputWriter(output, config.site_dir) as writer:
        job_key, keep = renderer.job_key, writer.keep
        todo = [job for job in renderer.page_jobs() if not kept(job.path, job_key, job)]
        # each page is written where it is rendered (a forked worker, on a big site): only
        # what was staged comes back. The workers are stopped (closing) before the writer
        # removes the staging folder on an error or Ctrl-C, so none writes into it after.
        rendered = len(todo)
        feeds = list(feed_jobs(site, config))

        def write_feeds() -> None:
            nonlocal rendered
            for feed in feeds:
                if not kept(feed.path, feed_key, feed):
                    with current_store().reading() as shown:
                        page = feed.render()
                    writer.write_page(page)
                    new_plan.files[page.path] = (todo_keys[page.path], tuple(sorted(shown)))
                    rendered += 1
            feeds.clear()

        with contextlib.closing(renderer.render_jobs(
                todo, lambda page: (writer.stage(page.path, page.data), page.reads))) as pages:
            for done, (staged, reads) in enumerate(pages, 1):
                writer.record(staged, "a generated page")
                new_plan.files[staged.path] = (todo_keys[staged.path], reads)
                if progress is not None and (done % 50 == 0 or done == len(todo)):
                    progress(done, len(todo), "rendering pages")
                if done == 2 and feeds:
                    # The first page was rendered here and the second came from the workers,
                    # if there are any: they go on with the rest while this process renders
                    # the feeds (a third of a second at 5,000 essays) instead of after them.
                    write_feeds()
        write_feeds()
        _raise_if(copy_problems(writer, static_copies(config, loaded.sources, site)),
                  list(loaded.warnings))
        report = writer.commit()
    save_page_plan(cache_dir, output, new_plan)
    return report, rendered


def _option_texts(options: BuildOptions, config: SiteConfig) -> list[str]:
    return [f"drafts={options.drafts}", f"future={options.future}",
            f"base_url={config.base_url}", f"output={config.output_path}"]


def _report_data(report: BuildReport) -> dict[str, Any]:
    """What a later build with nothing changed needs to repeat this build's summary."""
    return {
        "posts": report.posts, "pages": report.pages, "tags": report.tags,
        "left_out": [report.left_out.drafts, report.left_out.future,
                     [list(item) for item in report.left_out.sources]],
        "warnings": [dataclasses.asdict(w) for w in report.warnings],
        "sources": report.parsed + report.reused,
    }


def _report_from(stamp: BuildStamp, output: Path, files: int, started: float
                 ) -> BuildReport | None:
    try:
        data = stamp.report
        drafts, future, sources = data["left_out"]
        return BuildReport(
            output=output,
            posts=int(data["posts"]), pages=int(data["pages"]), tags=int(data["tags"]),
            files=WriteReport(0, files, 0),
            left_out=LeftOut(int(drafts), int(future), tuple((str(a), str(b)) for a, b in sources)),
            seconds=time.perf_counter() - started,
            warnings=tuple(Problem(**w) for w in data["warnings"]),
            reused=int(data.get("sources", 0)),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _raise_if(problems: list[Problem], warnings: list[Problem]) -> None:
    if problems:
        error = BuildFailed.many(problems)
        assert isinstance(error, BuildFailed)
        error.warnings = tuple(warnings)
        raise error
