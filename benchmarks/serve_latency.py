"""Save-to-reload latency of `csblog serve`.

Creates a site from ../shared/bench/make_corpus.py (default 1,000 essays), starts the dev server,
listens to its event stream as a browser does, and times from saving an edited essay to the
reload event arriving: N body edits of the middle essay, then N title edits (which touch the home
page, tag, author and archive pages and the neighbours). Prints the medians, where the time went
(save to the watcher's first event, the wait for the burst to end, the build, telling the event
stream, the event reaching the listener) and the load average, which moves these numbers.

    python benchmarks/serve_latency.py [--essays 1000] [--edits 20] [--pause 1.0]

Saves are `--pause` seconds apart, as a person's are (the server tidies up between rebuilds).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "bench" / "make_corpus.py"
sys.path.insert(0, str(REPO))

from csblog.serving import ServeOptions, Session  # noqa: E402

PARTS = ("first event", "burst end", "build", "tell", "stream")
CONFIG = 'title = "Bench"\nbase_url = "https://example.org/"\nemail = "me@example.org"\n'


class Listener:
    """Reads the event stream; `wait()` returns when the next reload or error arrives."""

    def __init__(self, url: str) -> None:
        self.event = threading.Event()
        self.kind = ""
        self.stream = urllib.request.urlopen(url + "__csblog/events", timeout=120)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        kind = ""
        for raw in self.stream:
            line = raw.decode().strip()
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data:") and kind:
                self.kind = kind
                self.event.set()

    def wait(self, timeout: float = 120) -> str:
        if not self.event.wait(timeout):
            raise TimeoutError("no event from the server")
        self.event.clear()
        return self.kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--essays", type=int, default=1000)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between saves")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        (site / "content").mkdir(parents=True)
        (site / "csblog.toml").write_text(CONFIG)
        subprocess.run([sys.executable, str(CORPUS), str(args.essays),
                        str(site / "content" / "posts"), "--flavor", "yaml"], check=True,
                       capture_output=True)
        essays = sorted((site / "content" / "posts").glob("*.md"))
        middle = essays[len(essays) // 2]
        original = middle.read_text()
        started = time.monotonic()
        session = Session(site, ServeOptions(port=0))
        url = session.start()
        print(f"{args.essays} essays: first build and server start "
              f"{time.monotonic() - started:.2f} s; load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        listener = Listener(url)
        time.sleep(0.5)
        results: dict[str, list[tuple[float, ...]]] = {}
        for label, change in (
                ("body edit", lambda i: original.replace("\n\n", f"\n\nEdit {i}.\n\n", 1)),
                ("title edit", lambda i: original.replace("title: ", f"title: Edit {i} ", 1))):
            times: list[tuple[float, ...]] = []
            for i in range(args.edits):
                time.sleep(args.pause)
                text = change(i)
                begin = time.monotonic()
                middle.write_text(text)
                kind = listener.wait()
                end = time.monotonic()
                if kind != "reload":
                    raise SystemExit(f"expected a reload, got {kind}: {session.live.status}")
                t = session.last_times
                assert t is not None
                times.append((end - begin, t.changed - begin, t.started - t.changed,
                              t.built - t.started, t.told - t.built, end - t.told))
            results[label] = times
            middle.write_text(original)
            listener.wait()
        session.stop()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for label, times in results.items():
        total = [t[0] for t in times]
        parts = ", ".join(f"{name} {statistics.median(t[i] for t in times) * 1000:.0f}"
                          for i, name in enumerate(PARTS, 1))
        print(f"{label}: median {statistics.median(total) * 1000:.0f} ms, "
              f"min {min(total) * 1000:.0f} ms, max {max(total) * 1000:.0f} ms "
              f"over {len(times)} saves (medians, ms: {parts})")


if __name__ == "__main__":
    main()
