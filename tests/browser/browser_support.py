"""Helpers for the browser tests: where the tools are, how to get them, a static server for the
built site, and a thin wrapper around a selenium-driven Chromium."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
from golden_site import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
APT_PACKAGES = ("chromium", "chromium-driver", "fonts-liberation", "fonts-dejavu-core")
TOOLS = REPO / ".test-tools"
VNU_JAR = TOOLS / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE_JS = TOOLS / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-sync")

# The pages checked with axe in every width and colour scheme. The essays between them have every
# part an essay can have: a table of contents, replies, related essays, footnotes, a table, code,
# a blockquote, an image (test_theme.py checks that they still do).
ESSAY = "/posts/forty-minutes-in-the-pharmacy-queue/"
ESSAY_WITH_CODE = "/posts/the-agent-who-actually-read-my-ticket/"
ESSAY_WITH_IMAGE = "/posts/cafe-manners/"
KEY_PAGES = {
    "home": "/",
    "essay": ESSAY,
    "essay-with-code": ESSAY_WITH_CODE,
    "essay-with-image": ESSAY_WITH_IMAGE,
    "tag": "/tags/support/",
    "tags": "/tags/",
    "author": "/authors/maria/",
    "authors": "/authors/",
    "archive": "/archive/",
    "page": "/about/",
    "404": "/no-such-page/",
}


def npm_installed(folder: Path) -> bool:
    """True when `folder/node_modules` was installed from the lock file as it is now."""
    stamp = folder / "node_modules" / ".installed-from-lock"
    return stamp.is_file() and stamp.read_text() == (folder / "package-lock.json").read_text()


def mark_npm_installed(folder: Path) -> None:
    (folder / "node_modules" / ".installed-from-lock").write_text(
        (folder / "package-lock.json").read_text())


def unavailable(reason: str) -> NoReturn:
    """A tool is missing: fail under CI, skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"CI is set, so a missing browser-test tool is a failure: {reason}",
                    pytrace=False)
    pytest.skip(reason)


def run(argv: list[str], cwd: Path | None = None, timeout: float = 900) -> tuple[bool, str]:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return done.returncode == 0, (done.stdout + done.stderr)[-3000:]


def apt_install(packages: list[str]) -> None:
    """Install Debian packages when we may (root, apt-get present), else report them missing."""
    if not packages:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        unavailable(f"missing {', '.join(packages)}; install them with: "
                    f"sudo apt-get install -y {' '.join(packages)}")
    ok, log = run(["apt-get", "update"])
    if ok:
        ok, log = run(["apt-get", "install", "-y", "--no-install-recommends", *packages])
    if not ok:
        unavailable(f"apt-get could not install {', '.join(packages)}:\n{log}")


class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the built site; a missing path gets /404.html with status 404, as hosts do."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        page = Path(self.directory) / "404.html"
        if code != 404 or not page.is_file():
            super().send_error(code, message, explain)
            return
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass


def serve(root: Path, port: int = 0) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve `root` on 127.0.0.1 (on a free port unless given), in a thread; returns the server
    and its URL."""
    handler = functools.partial(_SiteHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@dataclass
class Browser:
    """A headless Chromium driven by selenium, with helpers for viewport and colour scheme."""

    driver: Any
    base_url: str

    def open(self, path: str, width: int = 1280, height: int = 900,
             scheme: str = "light") -> None:
        # Device metrics, not the window size: the layout viewport is then exactly `width`,
        # and "mobile" makes Chromium honour <meta name="viewport"> as a phone does.
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 768})
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
            "features": [{"name": "prefers-color-scheme", "value": scheme}]})
        self.driver.get(self.base_url + path)

    def run_axe(self, axe_source: str, tags: list[str]) -> list[dict[str, Any]]:
        self.driver.execute_script(axe_source)
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]},"
            "                   resultTypes: ['violations']})"
            "  .then(r => done(JSON.stringify(r.violations.map(v => ({"
            "     id: v.id, impact: v.impact, help: v.help,"
            "     nodes: v.nodes.map(n => ({target: n.target, summary: n.failureSummary}))})))),"
            "        e => done(JSON.stringify({error: String(e)})));", tags)
        parsed = json.loads(result)
        if isinstance(parsed, dict):
            raise RuntimeError(f"axe-core failed: {parsed['error']}")
        return list(parsed)


def start_chromium(profile: Path, javascript: bool) -> Any:
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable('selenium is missing; install the test extra: pip install -e ".[test]"')
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2})
    try:
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    except WebDriverException as exc:
        unavailable(f"Chromium did not start: {exc.msg}")
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(60)
    return driver
