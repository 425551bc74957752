"""The development server: serves a built site on loopback and tells open pages to reload.

It knows nothing of builds: `LiveState` is told when a build succeeded (pages reload, or only
stylesheets are swapped when only CSS changed) or failed (pages show the error over the last good
site). Pages learn of it through Server-Sent Events; the small script that listens is added to
HTML as it is served, never to the built files.
"""

from __future__ import annotations

import functools
import http.server
import json
import posixpath
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EVENTS_PATH = "/__csblog/events"
SCRIPT_PATH = "/__csblog/live.js"
HEARTBEAT_SECONDS = 15.0

LIVE_SCRIPT = """\
(() => {
  const source = new EventSource("%(events)s");
  source.onopen = () => { document.documentElement.dataset.csblogLive = "listening"; };
  const overlayId = "csblog-error-overlay";
  const clear = () => { const o = document.getElementById(overlayId); if (o) o.remove(); };
  source.addEventListener("reload", () => location.reload());
  source.addEventListener("css", (event) => {
    clear();
    for (const link of document.querySelectorAll('link[rel="stylesheet"]')) {
      const url = new URL(link.href);
      url.searchParams.set("csblog", event.data);
      link.href = url.toString();
    }
  });
  source.addEventListener("ok", clear);
  source.addEventListener("error", (event) => {
    if (!event.data) return;  // the connection dropped: EventSource reconnects by itself
    clear();
    const problem = JSON.parse(event.data);
    const box = document.createElement("div");
    box.id = overlayId;
    box.setAttribute("role", "alert");
    box.style.cssText = "position:fixed;inset:auto 0 0 0;max-height:60vh;overflow:auto;" +
      "z-index:2147483647;margin:0;padding:1em 1.5em;background:#3b0a0a;color:#fff;" +
      "font:14px/1.5 ui-monospace,monospace;white-space:pre-wrap;border-top:4px solid #f55";
    box.textContent = "csblog: the last change did not build, so this is the last good " +
      "version.\\n\\n" + problem.message;
    document.body.appendChild(box);
  });
})();
"""


@dataclass(frozen=True)
class Status:
    generation: int  # counts finished builds, good or bad
    kind: str  # "reload", "css", "error" or "ok"
    message: str = ""


class LiveState:
    """The latest build's outcome, shared between the builder and the open pages."""

    def __init__(self) -> None:
        self._status = Status(0, "ok")
        self._changed = threading.Condition()
        self.closed = False

    @property
    def status(self) -> Status:
        with self._changed:
            return self._status

    def publish(self, kind: str, message: str = "") -> None:
        with self._changed:
            self._status = Status(self._status.generation + 1, kind, message)
            self._changed.notify_all()

    def wait(self, after: int, timeout: float) -> Status:
        """The status once its generation passes `after`, or the current one at the timeout."""
        with self._changed:
            self._changed.wait_for(lambda: self._status.generation > after or self.closed,
                                   timeout)
            return self._status

    def close(self) -> None:
        with self._changed:
            self.closed = True
            self._changed.notify_all()


def _event(status: Status) -> bytes:
    data = json.dumps({"message": status.message}) if status.kind == "error" else str(
        status.generation)
    return f"event: {status.kind}\ndata: {data}\n\n".encode()


class DevRequestHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the output folder under the site's base path, plus the live-reload endpoints."""

    server: DevServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self) -> None:  # noqa: N802 (http.server's API)
        path = urllib.parse.urlsplit(self.path).path
        if path == EVENTS_PATH:
            self._events()
        elif path == SCRIPT_PATH:
            self._send(200, "text/javascript; charset=utf-8",
                       (LIVE_SCRIPT % {"events": EVENTS_PATH}).encode())
        else:
            self._file(path)

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def _send(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _resolve(self, url_path: str) -> Path | None:
        """The file under the output folder for a URL path, or None (missing or outside)."""
        base = self.server.base_path
        path = urllib.parse.unquote(url_path)
        if not path.startswith(base) and path + "/" != base:
            return None
        rel = posixpath.normpath(path[len(base):] or ".")
        if rel.startswith("..") or rel.startswith("/") or "\x00" in rel:
            return None
        root = Path(self.directory).resolve()
        target = (root / rel).resolve()
        if not target.is_relative_to(root):
            return None  # a link that leads outside the output folder
        return target

    def _file(self, url_path: str) -> None:
        target = self._resolve(url_path)
        if target is not None and target.is_dir():
            if not url_path.endswith("/"):
                self.send_response(301)
                self.send_header("Location", url_path + "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            target = target / "index.html"
        if target is None or not target.is_file():
            self._not_found()
            return
        body = target.read_bytes()
        content_type = self.guess_type(str(target))
        if target.suffix == ".html":
            body = inject_live_script(body)
            content_type = "text/html; charset=utf-8"
        self._send(200, content_type, body)

    def _not_found(self) -> None:
        page = Path(self.directory) / "404.html"
        body = inject_live_script(page.read_bytes()) if page.is_file() else b"Not found\n"
        self._send(404, "text/html; charset=utf-8", body)

    def _events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        live = self.server.live
        status = live.status
        try:
            if status.kind == "error":
                self.wfile.write(_event(status))  # a page opened while the build is broken
            self.wfile.write(b"retry: 1000\n\n")
            self.wfile.flush()
            seen = status.generation
            while not live.closed:
                status = live.wait(seen, HEARTBEAT_SECONDS)
                if status.generation > seen:
                    seen = status.generation
                    self.wfile.write(_event(status))
                else:
                    self.wfile.write(b": still here\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass


def inject_live_script(html: bytes) -> bytes:
    tag = f'<script src="{SCRIPT_PATH}"></script>'.encode()
    index = html.rfind(b"</body>")
    return html[:index] + tag + html[index:] if index != -1 else html + tag


class DevServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], root: Path, base_path: str,
                 live: LiveState) -> None:
        handler = functools.partial(DevRequestHandler, directory=str(root))
        self.base_path = base_path
        self.live = live
        super().__init__(address, handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{port}{self.base_path}"

    def stop(self) -> None:
        self.live.close()
        self.shutdown()
        self.server_close()


def port_in_use(error: OSError) -> bool:
    return error.errno in (98, 48, 10048) or "in use" in str(error).lower()



