"""A process pool for the pure, per-source stage: front matter + Markdown.

Parsing a source depends only on its text, its path and the Markdown settings, so it is a map
over plain data. Each worker builds its own `MarkdownRenderer` once (in the pool's initializer)
and reuses it; results come back in the order of the jobs, so the output is the same whatever
the number of workers. A pool costs a fork and a Markdown set-up per worker: small sites are
parsed in this process.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from csblog.cache import ParsedSource, cache_key
from csblog.config import MarkdownConfig
from csblog.discovery import SourceFile, read_source
from csblog.errors import CsblogError, Problem
from csblog.markdown_rendering import MarkdownRenderer
from csblog.posts import ContentSettings, Document, Post, make_post, post_digest, split_front_matter

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

WORKERS_ENV = "CSBLOG_WORKERS"
# below this many sources per worker, starting the worker costs more than it saves
MIN_JOBS_PER_WORKER = 150
MAX_WORKERS = 8

ParseResult = ParsedSource | tuple[Problem, ...]

_renderer: MarkdownRenderer | None = None


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (macOS, Windows)
        return os.cpu_count() or 1


def default_workers(jobs: int) -> int:
    """Worker processes for `jobs` sources: $CSBLOG_WORKERS if set, else from the site's size."""
    wanted = os.environ.get(WORKERS_ENV, "").strip()
    if wanted.isdigit() and int(wanted) > 0:
        return int(wanted)
    return max(1, min(available_cpus(), MAX_WORKERS, jobs // MIN_JOBS_PER_WORKER))


def can_fork() -> bool:
    """Whether workers may be forked: not while other threads run (a dev server's watcher), as
    a forked child of a threaded process can deadlock on a lock another thread held."""
    import multiprocessing  # (here: 12 ms to import, and most builds use no pool)

    return threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()


def _context() -> BaseContext:
    """Fork (fast) when it is safe, else start workers afresh."""
    import multiprocessing

    return multiprocessing.get_context("fork" if can_fork() else "spawn")


def parse_source(renderer: MarkdownRenderer, rel: str, text: str) -> ParseResult:
    """Front matter and Markdown of one source; its problems if it cannot be parsed."""
    try:
        doc = split_front_matter(text, rel)
        rendered = renderer.render(doc.body, doc.rel)
    except CsblogError as exc:
        return tuple(exc.problems)
    return ParsedSource(
        Document(doc.rel, doc.meta, "", doc.body_line, doc.meta_lines), rendered)


def ignore_interrupts() -> None:
    """For worker processes: Ctrl-C in a terminal reaches the whole process group, and the
    parent alone handles it (it stops its pool); a traceback from each worker would bury its
    message."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _init_worker(config: MarkdownConfig) -> None:
    global _renderer
    ignore_interrupts()
    gc.enable()  # a forked worker inherits the parent's paused collector (see build.build)
    _renderer = MarkdownRenderer(config)


# --- making posts where they are parsed ------------------------------------------------------


class MadePost(NamedTuple):
    """A post source made into its `Post`, where it was parsed: with the problems and warnings
    found, the words of its body, `post_digest` of the Post ("" when it has problems) and its
    body's HTML when there is no cache to keep bodies in ("" otherwise)."""

    post: Post
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    words: int
    card: str
    html: str


@dataclass(frozen=True)
class PostMaking:
    """How to make posts of parsed sources: which sources are posts, with what settings, and
    whether bodies are kept in memory (no cache) rather than stored."""

    posts: frozenset[str]
    settings: ContentSettings
    keep_html: bool = False


def make_parsed_post(parsed: ParsedSource, making: PostMaking) -> MadePost:
    problems: list[Problem] = []
    warnings: list[Problem] = []
    post = make_post(parsed.document, parsed.rendered, making.settings, problems, warnings)
    # (a broken post's repr may be huge, a YAML alias bomb: it is never digested)
    return MadePost(post, tuple(problems), tuple(warnings), parsed.rendered.word_count,
                    "" if problems else post_digest(post),
                    parsed.rendered.html if making.keep_html else "")


# --- parsing files that workers read themselves ------------------------------------------------

# (the key of the text that was read, its result (a made post for a post), the pickled
# ParsedSource to store in the cache, or b"")
FileResult = tuple[str, ParseResult | MadePost, bytes]
_fingerprint = ""
_making: PostMaking | None = None


def parse_file(renderer: MarkdownRenderer, fingerprint: str, source: SourceFile,
               making: PostMaking | None = None) -> FileResult:
    """Read, key and parse one source (the key is of the text read here, whatever came before).

    With `making`, a post is made into its Post here, and what the cache is to store comes
    pickled: the process that asked has little left to do."""
    try:
        text = read_source(source)
    except CsblogError as exc:
        return "", tuple(exc.problems), b""
    key = cache_key(fingerprint, source.rel, text)
    outcome = parse_source(renderer, source.rel, text)
    if making is None or not isinstance(outcome, ParsedSource):
        return key, outcome, b""
    blob = b"" if making.keep_html else pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    if source.rel in making.posts:
        return key, make_parsed_post(outcome, making), blob
    return key, outcome, blob


def _init_file_worker(config: MarkdownConfig, fingerprint: str,
                      making: PostMaking | None) -> None:
    global _fingerprint, _making
    _init_worker(config)
    _fingerprint = fingerprint
    _making = making


def _parse_file_in_worker(source: SourceFile) -> FileResult:
    assert _renderer is not None
    return parse_file(_renderer, _fingerprint, source, _making)


def parse_files(sources: Sequence[SourceFile], config: MarkdownConfig, fingerprint: str,
                workers: int | None = None, renderer: MarkdownRenderer | None = None,
                making: PostMaking | None = None) -> Iterator[FileResult]:
    """Parse sources, yielding results in their order as they come (see `parse_file`).

    Workers read the files themselves, so neither the texts nor more than a few results are
    ever all in this process's memory at once: take each result as it comes.
    """
    count = default_workers(len(sources)) if workers is None else max(1, workers)
    count = min(count, len(sources))
    if count <= 1:
        local = renderer or MarkdownRenderer(config)
        for source in sources:
            yield parse_file(local, fingerprint, source, making)
        return
    chunksize = max(1, min(16, len(sources) // (count * 8)))
    pool = _context().Pool(count, initializer=_init_file_worker,
                           initargs=(config, fingerprint, making))
    try:
        yield from pool.imap(_parse_file_in_worker, sources, chunksize=chunksize)
    finally:
        pool.terminate()  # all done, or stopped (an error, Ctrl-C): the workers end now
        pool.join()
