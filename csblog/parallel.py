"""A process pool for the pure, per-source stage: front matter + Markdown.

Parsing a source depends only on its text, its path and the Markdown settings, so it is a map
over plain data. Each worker builds its own `MarkdownRenderer` once (in the pool's initializer)
and reuses it; results come back in the order of the jobs, so the output is the same whatever
the number of workers. A pool costs a fork and a Markdown set-up per worker: small sites are
parsed in this process.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator, Sequence

from csblog.cache import ParsedSource, cache_key
from csblog.config import MarkdownConfig
from csblog.discovery import SourceFile, read_source
from csblog.errors import CsblogError, Problem
from csblog.markdown_rendering import MarkdownRenderer
from csblog.posts import Document, split_front_matter

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


def _context() -> multiprocessing.context.BaseContext:
    """Fork (fast) unless other threads run (a dev server's watcher): a forked child of a
    threaded process can deadlock on a lock another thread held, so start workers afresh."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


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


# --- parsing files that workers read themselves ------------------------------------------------

FileResult = tuple[str, ParseResult]  # (the key of the text that was read, its result)
_fingerprint = ""


def parse_file(renderer: MarkdownRenderer, fingerprint: str, source: SourceFile) -> FileResult:
    """Read, key and parse one source (the key is of the text read here, whatever came before)."""
    try:
        text = read_source(source)
    except CsblogError as exc:
        return "", tuple(exc.problems)
    return cache_key(fingerprint, source.rel, text), parse_source(renderer, source.rel, text)


def _init_file_worker(config: MarkdownConfig, fingerprint: str) -> None:
    global _fingerprint
    _init_worker(config)
    _fingerprint = fingerprint


def _parse_file_in_worker(source: SourceFile) -> FileResult:
    assert _renderer is not None
    return parse_file(_renderer, _fingerprint, source)


def parse_files(sources: Sequence[SourceFile], config: MarkdownConfig, fingerprint: str,
                workers: int | None = None,
                renderer: MarkdownRenderer | None = None) -> Iterator[FileResult]:
    """Parse sources, yielding results in their order as they come.

    Workers read the files themselves, so neither the texts nor more than a few results are
    ever all in this process's memory at once: take each result as it comes.
    """
    count = default_workers(len(sources)) if workers is None else max(1, workers)
    count = min(count, len(sources))
    if count <= 1:
        local = renderer or MarkdownRenderer(config)
        for source in sources:
            yield parse_file(local, fingerprint, source)
        return
    chunksize = max(1, min(16, len(sources) // (count * 8)))
    pool = _context().Pool(count, initializer=_init_file_worker, initargs=(config, fingerprint))
    try:
        yield from pool.imap(_parse_file_in_worker, sources, chunksize=chunksize)
    finally:
        pool.terminate()  # all done, or stopped (an error, Ctrl-C): the workers end now
        pool.join()
