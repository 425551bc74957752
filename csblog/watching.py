"""Watch a site's sources and rebuild when they change: outside the pipeline, it calls `build`.

Bursts of events (an editor's save is often write-rename-write) are debounced into one rebuild;
the output, the cache, version control and editors' temporary files are ignored. A CSS-only change
lets pages swap their stylesheets instead of reloading.

A burst ends when no event has come for a while. How long depends on its last event: after a file
was closed from writing, or renamed into place, a save is normally complete, and the events of
one save arrive together, so a short wait suffices; after any other event (a truncation, a write
still open, a rename away, a deletion, a new folder) more is likely to follow, so it is longer.
Rebuilding on the very first event is not safe: a save's first event is usually the truncation
of the file, before its new text is written.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from csblog.discovery import is_ignored

WATCHED = ("content", "static", "themes", "templates", "csblog.toml")
QUIET_SECONDS = 0.05  # a burst ends after this long without events...
SETTLED_SECONDS = 0.015  # ...or this long, when its last event completed a file (see above)
LONGEST_WAIT = 1.0  # rebuild at the latest this long after the first event of a burst
IDLE_SECONDS = 0.5  # `idle` runs once this long after a rebuild with no change since


def relevant(path: Path, site_dir: Path) -> bool:
    """True for a change a build depends on."""
    try:
        rel = path.relative_to(site_dir)
    except ValueError:
        return False
    if not rel.parts or rel.parts[0] not in WATCHED:
        return False
    return not any(is_ignored(part) for part in rel.parts)


def css_only(paths: Iterable[Path], site_dir: Path) -> bool:
    paths = list(paths)
    return bool(paths) and all(
        p.suffix == ".css" and p.relative_to(site_dir).parts[0] in ("static", "themes")
        for p in paths)


class _Collector(FileSystemEventHandler):
    def __init__(self, site_dir: Path, changed: Callable[[Path, bool], None]) -> None:
        self.site_dir = site_dir
        self.changed = changed

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write") or (
                event.is_directory and event.event_type == "modified"):
            return  # a folder is "modified" by every save inside it: the file's event counts
        kind = event.event_type
        for raw, completes in ((event.src_path, kind == "closed" and not event.is_directory),
                               (getattr(event, "dest_path", ""), kind == "moved")):
            if raw:
                path = Path(raw if isinstance(raw, str) else raw.decode())
                if relevant(path, self.site_dir):
                    self.changed(path, completes)


class Rebuilder:
    """Runs `rebuild(changed_paths)` once per burst of changes, on its own thread, and
    `idle()` (when given) on the same thread once things have been quiet after a rebuild."""

    def __init__(self, site_dir: Path, rebuild: Callable[[set[Path]], None],
                 idle: Callable[[], None] | None = None) -> None:
        self.site_dir = site_dir.resolve()
        self.rebuild = rebuild
        self.idle = idle
        self._idle_due: float | None = None
        self._pending: set[Path] = set()
        self._first = 0.0
        self._last = 0.0
        self._quiet = QUIET_SECONDS  # how long the burst so far must be quiet to end
        self.burst_began = 0.0  # time.monotonic() of the first event of the burst being rebuilt
        self._wake = threading.Condition()
        self._stopped = False
        self._observer = Observer()
        self._thread = threading.Thread(target=self._loop, name="csblog-rebuild", daemon=True)

    def start(self) -> None:
        handler = _Collector(self.site_dir, self.notice)
        for name in WATCHED:
            path = self.site_dir / name
            if path.is_dir():
                self._observer.schedule(handler, str(path), recursive=True)
        # csblog.toml: watch the site folder itself, not recursively
        self._observer.schedule(handler, str(self.site_dir), recursive=False)
        self._observer.start()
        self._thread.start()

    def notice(self, path: Path, completes: bool = False) -> None:
        """A change to `path`; `completes`: the event finished writing it (closed, moved in)."""
        with self._wake:
            now = time.monotonic()
            if not self._pending:
                self._first = now
            self._pending.add(path)
            self._last = now
            self._quiet = SETTLED_SECONDS if completes else QUIET_SECONDS
            self._wake.notify()

    def _next_burst(self) -> set[Path] | None:
        """The next burst of changes; an empty set when it is time for `idle`; None: stop."""
        with self._wake:
            while not self._stopped:
                now = time.monotonic()
                if self._pending:
                    due = min(self._last + self._quiet, self._first + LONGEST_WAIT)
                    if now >= due:
                        burst, self._pending = self._pending, set()
                        self.burst_began = self._first
                        self._idle_due = None
                        return burst
                    self._wake.wait(due - now)
                elif self._idle_due is not None:
                    if now >= self._idle_due:
                        self._idle_due = None
                        return set()
                    self._wake.wait(self._idle_due - now)
                else:
                    self._wake.wait()
        return None

    def _loop(self) -> None:
        while (burst := self._next_burst()) is not None:
            if not burst:
                assert self.idle is not None
                self.idle()
                continue
            self.rebuild(burst)
            if self.idle is not None:
                with self._wake:
                    self._idle_due = time.monotonic() + IDLE_SECONDS

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        if self._observer.is_alive():
            self._observer.stop()
            self._observer.join()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
