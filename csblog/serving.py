"""`csblog serve`: build, serve on loopback, watch, rebuild and tell open pages.

The served site is built into its own folder (`.csblog-serve/`), never into the output a deploy
publishes, with the flags given (drafts and future posts only when asked); it is byte-identical to
`csblog build` with the same flags into a folder of its own.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from csblog.build import BuildOptions, BuildReport, build
from csblog.dev_server import DevServer, LiveState, port_in_use
from csblog.errors import CsblogError, UsageError
from csblog.watching import Rebuilder, css_only

SERVE_DIR = ".csblog-serve"


@dataclass(frozen=True)
class ServeOptions:
    port: int = 8000
    bind: str = "127.0.0.1"
    drafts: bool = False
    future: bool = False


@dataclass(frozen=True)
class RebuildTimes:
    """Moments (`time.monotonic()`) of the latest rebuild: the first event of the changes it
    built (its start, for the first build), the build's start and end, and pages being told."""

    changed: float
    started: float
    built: float
    told: float


class Session:
    """A running dev server with its watcher. `stop()` ends both, leaving nothing behind."""

    def __init__(self, site_dir: Path, options: ServeOptions,
                 say: Callable[[str], None] = lambda _: None) -> None:
        self.site_dir = site_dir.resolve()
        self.options = options
        self.say = say
        self.live = LiveState()
        self.build_options = BuildOptions(drafts=options.drafts, future=options.future,
                                          output_dir=SERVE_DIR)
        self.last_report: BuildReport | None = None
        self.last_error: CsblogError | None = None
        self.last_times: RebuildTimes | None = None
        self.server: DevServer | None = None
        self.rebuilder = Rebuilder(self.site_dir, self.rebuild, idle=self.tidy)

    @property
    def output(self) -> Path:
        return self.site_dir / SERVE_DIR

    def start(self) -> str:
        """Build once (a broken site is served as its error), serve and watch; the site's URL."""
        self.rebuild(set())
        from csblog.config import load_config

        config, _ = load_config(self.site_dir)
        self.output.mkdir(exist_ok=True)
        try:
            self.server = DevServer((self.options.bind, self.options.port), self.output,
                                    config.base_path, self.live)
        except OSError as exc:
            if port_in_use(exc):
                raise UsageError(f"port {self.options.port} is already in use",
                                 hint=f"try another: csblog serve --port "
                                      f"{self.options.port + 1}") from None
            raise UsageError(f"cannot listen on {self.options.bind}:{self.options.port}: "
                             f"{exc.strerror}") from None
        import threading

        threading.Thread(target=self.server.serve_forever, name="csblog-serve",
                         daemon=True).start()
        self.rebuilder.start()
        return self.server.url

    def rebuild(self, changed: set[Path]) -> None:
        started = time.monotonic()
        try:
            report = build(self.site_dir, self.build_options)
        except CsblogError as exc:
            built = time.monotonic()
            self.last_error = exc
            self.live.publish("error", str(exc))
            self._times(changed, started, built)
            self.say(f"error: the change did not build; still serving the last good site\n{exc}")
            return
        built = time.monotonic()
        self.last_error = None
        self.last_report = report
        if changed:
            kind = "css" if css_only(changed, self.site_dir) else "reload"
            self.live.publish(kind)
            self._times(changed, started, built)
            self.say(f"rebuilt in {built - started:.2f} s: "
                     f"{report.files.written} files written ({len(changed)} changed sources)")
        elif self.live.status.generation:
            self.live.publish("ok")

    def _times(self, changed: set[Path], started: float, built: float) -> None:
        began = self.rebuilder.burst_began if changed else started
        self.last_times = RebuildTimes(began, started, built, time.monotonic())

    @staticmethod
    def tidy() -> None:
        """Run between rebuilds, once the pages have reloaded: collect the garbage.

        A build leaves enough objects that every second one paid for a full collection, ~50 ms
        of its 300 at 1,000 essays; collected here, the next build starts with none due.
        """
        gc.collect()

    def stop(self) -> None:
        self.rebuilder.stop()
        if self.server is not None:
            self.server.stop()
