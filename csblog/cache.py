"""The parse/render cache: what the front matter and Markdown stage made of a source.

One entry per source text, keyed by a hash of the text, the source's path (relative links depend
on its folder), the Markdown settings, the csblog version, the versions of Markdown and Pygments
and the code of the stages whose result is cached. Changing any of them gives new keys, so a
stale entry is never served; old entries are pruned once they outnumber the live ones.

Entries live in one SQLite file (stdlib `sqlite3`) in the site's `.csblog-cache/` folder: opening
it costs the same at 10 entries or 10,000, and a build reads only the entries of its own sources.
A cache that cannot be opened or read is ignored: the build renders everything and is correct.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import markdown
import pygments

import csblog
from csblog.config import MarkdownConfig
from csblog.discovery import SiteSources, discover
from csblog.markdown_rendering import RenderedMarkdown, extension_fingerprint
from csblog.posts import Document

CACHE_FILE = "render-cache.sqlite3"
# bump when the shape of a cached value changes
CACHE_FORMAT = 1
_BATCH = 500  # SQLite allows at most 999 parameters in older builds
_PRUNE_SLACK = 100


@dataclass(frozen=True)
class ParsedSource:
    """A source after the pure, cacheable stage: front matter split, body rendered."""

    document: Document  # with an empty body: the rendered HTML is all later stages need
    rendered: RenderedMarkdown


def _code_hash() -> str:
    """The code that produces a cached value: a changed checkout must not reuse old entries."""
    digest = hashlib.sha256()
    package = Path(csblog.__file__).resolve().parent
    for name in ("markdown_rendering.py", "posts.py", "cache.py", "parallel.py"):
        try:
            digest.update((package / name).read_bytes())
        except OSError:
            digest.update(name.encode())
    return digest.hexdigest()


def settings_fingerprint(config: MarkdownConfig) -> str:
    """Everything besides the text and path that decides what the Markdown stage produces."""
    data = {
        "format": CACHE_FORMAT,
        "csblog": csblog.__version__,
        "markdown": markdown.__version__,
        "pygments": pygments.__version__,
        "code": _code_hash(),
        "settings": extension_fingerprint(config),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def cache_key(fingerprint: str, rel: str, text: str) -> str:
    """The key of a source's text at `rel` under settings `fingerprint`."""
    digest = hashlib.sha256()
    digest.update(fingerprint.encode())
    digest.update(b"\0" + rel.encode("utf-8", "surrogatepass") + b"\0")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


class RenderCache:
    """Parsed sources by key. Use `open_cache`; call `close` (or use `with`) when done."""

    def __init__(self, connection: sqlite3.Connection, fingerprint: str) -> None:
        self._db = connection
        self.fingerprint = fingerprint
        self._used: set[str] = set()
        self.hits = 0

    def key(self, rel: str, text: str) -> str:
        return cache_key(self.fingerprint, rel, text)

    def is_empty(self) -> bool:
        try:
            return self._db.execute("SELECT 1 FROM entries LIMIT 1").fetchone() is None
        except sqlite3.Error:
            return False

    def use(self, keys: Iterable[str]) -> None:
        """Keep these entries when pruning (used by this build without being read)."""
        self._used.update(keys)

    def get_many(self, keys: Iterable[str]) -> dict[str, ParsedSource]:
        """The entries found among `keys` (a damaged entry counts as missing)."""
        wanted = list(dict.fromkeys(keys))
        self._used.update(wanted)
        found: dict[str, ParsedSource] = {}
        try:
            for start in range(0, len(wanted), _BATCH):
                batch = wanted[start : start + _BATCH]
                marks = ",".join("?" * len(batch))
                rows = self._db.execute(
                    f"SELECT key, value FROM entries WHERE key IN ({marks})", batch)
                for key, value in rows:
                    try:
                        entry = pickle.loads(value)
                    except Exception:  # noqa: BLE001 (a damaged entry is re-rendered)
                        continue
                    if isinstance(entry, ParsedSource):
                        found[key] = entry
        except sqlite3.Error:
            return {}
        self.hits += len(found)
        return found

    def put_many(self, entries: Mapping[str, ParsedSource | bytes]) -> None:
        """Add entries (stored at `close`; pickled one at a time, not all held in memory),
        or entries pickled already (by a parse worker)."""
        self._used.update(entries)
        with contextlib.suppress(sqlite3.Error):
            self._db.executemany(
                "INSERT OR REPLACE INTO entries VALUES (?, ?)",
                ((key, entry if isinstance(entry, bytes)
                  else pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL))
                 for key, entry in entries.items()))

    def close(self) -> None:
        """Store the new entries, prune stale ones, close the database."""
        try:
            with self._db:  # commits what put_many inserted
                (count,) = self._db.execute("SELECT count(*) FROM entries").fetchone()
                if count > 2 * len(self._used) + _PRUNE_SLACK:
                    self._prune()
        except sqlite3.Error:
            pass
        finally:
            self._db.close()

    def _prune(self) -> None:
        """Drop the entries this build did not use (old versions of edited essays, old settings)."""
        self._db.execute("CREATE TEMP TABLE used (key TEXT PRIMARY KEY)")
        self._db.executemany("INSERT OR IGNORE INTO used VALUES (?)",
                             ((k,) for k in self._used))
        self._db.execute("DELETE FROM entries WHERE key NOT IN (SELECT key FROM used)")
        self._db.execute("DROP TABLE used")

    def __enter__(self) -> RenderCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_cache(folder: Path, config: MarkdownConfig) -> RenderCache | None:
    """The cache in `folder` (created if missing), or None when it cannot be used."""
    fingerprint = settings_fingerprint(config)
    path = folder / CACHE_FILE
    for attempt in range(2):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, timeout=30)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
            return RenderCache(connection, fingerprint)
        except sqlite3.OperationalError:
            return None  # locked, read-only, no such folder: build without the cache
        except sqlite3.DatabaseError:
            if attempt == 0:  # not a database (damaged, or something else): start afresh
                for suffix in ("", "-wal", "-shm"):
                    Path(str(path) + suffix).unlink(missing_ok=True)
                continue
            return None
        except OSError:
            return None
    return None


def body_fetcher(folder: Path) -> Callable[[str], str]:
    """key -> the rendered HTML of that entry, read from the cache in `folder` when asked.

    Each process opens its own read connection (a forked page-rendering worker must not share
    its parent's). A key missing from the cache is an internal error: the build stored it.
    """
    connection: sqlite3.Connection | None = None
    owner = 0

    def fetch(key: str) -> str:
        nonlocal connection, owner
        if connection is None or owner != os.getpid():
            connection = sqlite3.connect(folder / CACHE_FILE, timeout=30)
            owner = os.getpid()
        row = connection.execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(f"the render cache lost the entry {key}")
        entry = pickle.loads(row[0])
        assert isinstance(entry, ParsedSource)
        return entry.rendered.html

    return fetch


# --- the source index: what the last build made of each source file -------------------------

SOURCE_INDEX_FILE = "sources.pickle"
SOURCE_INDEX_FORMAT = 3
SHELF_FILE = "posts.pickle"


@dataclass
class SourceIndex:
    """Each source's stat and text key, and what each post was, as the last build found them.

    With it a build neither reads nor parses an unchanged file (see build.parse_sources). Valid
    only for the same `settings` (the Markdown fingerprint and the content settings but the
    current time), which is part of how it is looked up. It holds no Post: those are on the
    shelf named `shelf` (see `save_shelf`), unpickled only by a build that needs them, so that
    the index stays cheap to read and write at every build.
    """

    settings: str
    taken_ns: int  # when the stats were taken: a file modified just before is not trusted
    files: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # size, mtime, key
    posts: dict[str, tuple[str, tuple[Any, ...], int, str, float, bool, bool]] = field(
        default_factory=dict)
    # rel -> (key, its warnings, words in its body, post_digest(Post), date as POSIX time,
    #         future, draft)
    shelf: str = ""  # the id of the shelf that holds these posts' Posts


def source_index_key(fingerprint: str, settings: Any) -> str:
    """The Markdown fingerprint and the content settings, without the current time."""
    plain = settings.without_time()
    return hashlib.sha256(f"{SOURCE_INDEX_FORMAT}\0{fingerprint}\0{plain}".encode()).hexdigest()


def load_source_index(folder: Path, settings: str) -> SourceIndex | None:
    """The index saved for these settings, or None (missing, damaged, other settings)."""
    found = _read_pickles(folder / SOURCE_INDEX_FILE, 1)
    index = found[0] if found else None
    if not isinstance(index, SourceIndex) or index.settings != settings:
        return None
    return index


def save_source_index(folder: Path, index: SourceIndex) -> None:
    _write_pickles(folder / SOURCE_INDEX_FILE, index)


def load_shelf(folder: Path, shelf: str) -> dict[str, Any] | None:
    """The Posts (source -> Post) saved under id `shelf`, or None (missing, damaged, other)."""
    found = _read_pickles(folder / SHELF_FILE, 2, first=shelf)
    return found[1] if found and isinstance(found[1], dict) else None


def save_shelf(folder: Path, shelf: str, posts: Mapping[str, Any]) -> None:
    _write_pickles(folder / SHELF_FILE, shelf, dict(posts))


# --- the site model of the last build ---------------------------------------------------------

MODEL_FILE = "site-model.pickle"


def load_model(folder: Path, key: str) -> Any | None:
    """What `save_model` saved under `key`, or None (missing, damaged, another key)."""
    found = _read_pickles(folder / MODEL_FILE, 2, first=key)
    return found[1] if found else None


def save_model(folder: Path, key: str, payload: Any) -> None:
    _write_pickles(folder / MODEL_FILE, key, payload)


# --- pickle files, remembered by the process that wrote or read them --------------------------

# A long-running process (csblog serve) rebuilds again and again: the objects it last wrote to,
# or read from, a file are reused while the file is that very file (same inode, size and time)
# instead of being unpickled again. Callers never change what they load.
_recent: dict[Path, tuple[tuple[int, int, int], tuple[Any, ...]]] = {}


def _signature(path: Path) -> tuple[int, int, int]:
    stat = os.stat(path)
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def _read_pickles(path: Path, count: int, first: Any = None) -> tuple[Any, ...] | None:
    """`count` objects pickled one after the other in `path`; None when the file is missing or
    damaged, or when `first` is given and the first object is not equal to it."""
    try:
        signature = _signature(path)
        remembered = _recent.get(path)
        if remembered is not None and remembered[0] == signature:
            objects = remembered[1]
        else:
            with path.open("rb") as handle:
                objects = (pickle.load(handle),)
                if first is not None and objects[0] != first:
                    return None  # another model: the rest is not unpickled
                objects += tuple(pickle.load(handle) for _ in range(count - 1))
            _recent[path] = (signature, objects)
    except Exception:  # noqa: BLE001 (a damaged or old file only costs a slower build)
        return None
    if first is not None and objects[0] != first:
        return None
    return objects


def _write_pickles(path: Path, *objects: Any) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as handle:
            for obj in objects:
                pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        _recent[path] = (_signature(path), objects)
    except (OSError, pickle.PicklingError, RecursionError):
        _recent.pop(path, None)


# --- the build stamp: has anything a build reads changed since the last build? --------------

STAMP_FILE = "build-stamp.json"
# what a build reads in the site folder besides its sources (and the output and the cache)
_INPUT_DIRS = ("themes", "templates")
_INPUT_FILES = ("csblog.toml",)


def _walk_stats(folder: str, prefix: str, digest: Any, newest: list[int],
                seen: set[tuple[int, int]] | None = None) -> None:
    """(path, size, mtime) of every file under `folder`, in sorted order, into `digest`.

    Linked folders are followed (as discovery follows them), each folder once: a link loop ends.
    """
    seen = set() if seen is None else seen
    try:
        info = os.stat(folder)
        if (info.st_dev, info.st_ino) in seen:
            return
        seen.add((info.st_dev, info.st_ino))
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name == "__pycache__":
            continue
        rel = f"{prefix}/{entry.name}"
        try:
            if entry.is_dir():
                _walk_stats(entry.path, rel, digest, newest, seen)
            else:
                stat = entry.stat()
                newest[0] = max(newest[0], stat.st_mtime_ns)
                digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode(
                    "utf-8", "surrogateescape"))
        except OSError:
            digest.update(f"{rel}\0?\n".encode("utf-8", "surrogateescape"))


def input_fingerprint(site_dir: Path, options: Iterable[str] = ()) -> str:
    """A hash of everything a build of `site_dir` reads, by file size and modification time.

    Covers csblog.toml, the sources discovery finds (content/, static/), themes/, templates/,
    the built-in theme, the code of csblog and the versions of Markdown, Pygments and Jinja2,
    plus `options` (the build's flags as text: drafts, future, base URL, output folder). Equal
    fingerprints mean an identical build, except that time passes: see
    `BuildStamp.valid_until`. Costs a stat() per file.
    """
    return input_state(site_dir, options)[0]


def input_state(site_dir: Path, options: Iterable[str] = (),
                sources: SiteSources | None = None) -> tuple[str, int]:
    """`input_fingerprint` and the newest modification time (ns) among the inputs; `sources`,
    when given, are those discovery found just now (with their stats)."""
    import jinja2  # only here: the cache module itself does not render templates

    digest = hashlib.sha256()
    newest = [0]
    package = Path(csblog.__file__).resolve().parent
    digest.update(json.dumps([csblog.__version__, markdown.__version__, pygments.__version__,
                              jinja2.__version__, list(options)]).encode())
    for name in _INPUT_FILES:
        _walk_stats_file(site_dir / name, name, digest, newest)
    found = sources or discover(site_dir)
    lines = [f"{p.path}\0{p.message}\n" for p in found.problems]
    for group in (found.posts, found.pages, found.authors, found.comments,
                  found.content_assets, found.static):
        lines += [f"{s.rel}\0{s.size}\0{s.mtime_ns}\n" for s in group]
        newest[0] = max([newest[0], *(s.mtime_ns for s in group)])
    digest.update("".join(lines).encode("utf-8", "surrogateescape"))
    for name in _INPUT_DIRS:
        _walk_stats(str(site_dir / name), name, digest, newest)
    _walk_stats(str(package), "<csblog>", digest, newest)  # the code, and the installed theme
    _walk_stats(str(package.parent / "themes" / "default"), "<theme>", digest, newest)
    return digest.hexdigest(), newest[0]


def _walk_stats_file(path: Path, rel: str, digest: Any, newest: list[int]) -> None:
    try:
        stat = path.stat()
        newest[0] = max(newest[0], stat.st_mtime_ns)
        digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    except OSError:
        digest.update(f"{rel}\0-\n".encode())


@dataclass(frozen=True)
class BuildStamp:
    """What the last successful build of an output folder was made from."""

    inputs: str  # input_fingerprint()
    valid_until: float | None  # POSIX time at which a future post becomes due, if any
    report: Mapping[str, Any] = field(default_factory=dict)  # JSON: to repeat the summary line


def _per_output(cache_dir: Path, output: Path, name: str) -> Path:
    """The file `name` in the cache for one output folder (a site may build to several)."""
    key = hashlib.sha1(str(output.resolve()).encode()).hexdigest()[:12]
    return cache_dir / f"{key}-{name}"


def _stamp_path(cache_dir: Path, output: Path) -> Path:
    return _per_output(cache_dir, output, STAMP_FILE)


def load_stamp(cache_dir: Path, output: Path) -> BuildStamp | None:
    try:
        data = json.loads(_stamp_path(cache_dir, output).read_text(encoding="utf-8"))
        return BuildStamp(str(data["inputs"]), data.get("valid_until"), data.get("report", {}))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_stamp(cache_dir: Path, output: Path, stamp: BuildStamp) -> None:
    """Record a successful build (call after the output is in place)."""
    path = _stamp_path(cache_dir, output)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"inputs": stamp.inputs, "valid_until": stamp.valid_until,
                                   "report": dict(stamp.report)}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def forget_stamp(cache_dir: Path, output: Path) -> None:
    """Before a build changes the output: a build that fails half-way must not look current."""
    _stamp_path(cache_dir, output).unlink(missing_ok=True)


def is_current(stamp: BuildStamp | None, inputs: str, now: float) -> bool:
    """True when the last build read exactly these inputs and no future post has become due."""
    return (stamp is not None and stamp.inputs == inputs
            and (stamp.valid_until is None or now < stamp.valid_until))


# --- the page plan: what each output file was rendered from -----------------------------------

PAGE_PLAN_FILE = "page-plan.pickle"


@dataclass
class PagePlan:
    """What each output file of the last build of an output folder was rendered from.

    A file is as it would be rendered now when its structural key is the same (everything it
    shows but bodies: see PageRenderer.job_key) and the bodies it showed are unchanged. When
    `key` (the site model and what every page sees) is the same too, the structural keys are
    too, and a build need not compute them again.
    """

    key: str = ""
    bodies: dict[str, str] = field(default_factory=dict)  # source -> its body's key
    files: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    # output path -> (structural key, the sources whose bodies it shows)

    def changed_bodies(self, bodies: Mapping[str, str]) -> set[str]:
        """The sources whose body key is not what it was (`bodies`: source -> key now)."""
        old = self.bodies
        changed = {source for source, key in bodies.items() if old.get(source) != key}
        changed.update(source for source in old if source not in bodies)
        return changed

    def showing(self, changed: set[str]) -> set[str]:
        """The files that showed one of the `changed` bodies (found once for all of them: a
        site of 10,000 essays has 15,000 files to look up, and most show one body or none)."""
        if not changed:
            return set()
        return {path for path, (_, shown) in self.files.items() if not changed.isdisjoint(shown)}


def load_page_plan(cache_dir: Path, output: Path) -> PagePlan:
    """The plan of the last build of `output` (empty when unknown)."""
    found = _read_pickles(_per_output(cache_dir, output, PAGE_PLAN_FILE), 1)
    plan = found[0] if found else None
    return plan if isinstance(plan, PagePlan) else PagePlan()


def save_page_plan(cache_dir: Path, output: Path, plan: PagePlan) -> None:
    """Record the plan of the files now in the output (after the output is in place)."""
    path = _per_output(cache_dir, output, PAGE_PLAN_FILE)
    _write_pickles(path, plan)
    # what csblog 0.1 kept instead (the key of each page, as JSON) is of no use any more
    with contextlib.suppress(OSError):
        path.with_name(path.name.replace(PAGE_PLAN_FILE, "page-keys.json")).unlink(
            missing_ok=True)
