"""Watch a site's sources and rebuild when they change: outside the pipeline, it calls `build`.

Bursts of events (an editor's save is often write-rename-write) are debounced into one rebuild;
the output, the cache, version control and editors' temporary files are ignored. A CSS-only change
lets pages swap their stylesheets instead of reloading.
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
QUIET_SECONDS = 0.05  # a burst ends after this long without events
LONGEST_WAIT = 1.0  # rebuild at the latest this long after the first event of a burst


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
    def __init__(self, site_dir: Path, changed: Callable[[Path], None]) -> None:
        self.site_dir = site_dir
        self.changed = changed

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write") or (
                event.is_directory and event.event_type == "modified"):
            return  # a folder is "modified" by every save inside it: the file's event counts
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if raw:
                path = Path(raw if isinstance(raw, str) else raw.decode())
                if relevant(path, self.site_dir):
                    self.changed(path)


class Rebuilder:
    """Runs `rebuild(changed_paths)` once per burst of changes, on its own thread."""

    def __init__(self, site_dir: Path, rebuild: Callable[[set[Path]], None]) -> None:
        self.site_dir = site_dir.resolve()
        self.rebuild = rebuild
        self._pending: set[Path] = set()
        self._first = 0.0
        self._last = 0.0
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

    def notice(self, path: Path) -> None:
        with self._wake:
            now = time.monotonic()
            if not self._pending:
                self._first = now
            self._pending.add(path)
            self._last = now
            self._wake.notify()

    def _next_burst(self) -> set[Path] | None:
        with self._wake:
            while not self._stopped:
                if self._pending:
                    now = time.monotonic()
                    due = min(self._last + QUIET_SECONDS, self._first + LONGEST_WAIT)
                    if now >= due:
                        burst, self._pending = self._pending, set()
                        return burst
                    self._wake.wait(due - now)
                else:
                    self._wake.wait()
        return None

    def _loop(self) -> None:
        while (burst := self._next_burst()) is not None:
            self.rebuild(burst)

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        if self._observer.is_alive():
            self._observer.stop()
            self._observer.join()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
