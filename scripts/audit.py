"""Lighthouse scores and screenshots of the sample site with the default theme.

    python3 scripts/audit.py [--out audit/] [--no-lighthouse] [--no-screenshots]

Builds a copy of the sample site with its base URL set to where it is served (127.0.0.1 on a free
port), runs Lighthouse 12 (pinned in scripts/audit/package-lock.json, installed there with
`npm ci --ignore-scripts` on first use) on the home page and an essay with the desktop and mobile
presets, one run at a time because performance scores move with CPU load, and prints the four
category scores of each run. Then it saves full-page screenshots of the same two pages at 390 and
1280 px, light and dark, into the output folder (default `audit/`, gitignored) and writes the
Lighthouse reports beside them. Needs Debian's chromium and chromedriver (see tests/browser/).
Exits 1 when a score is under 100.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "browser")]

from browser_support import (  # noqa: E402
    CHROMEDRIVER,
    CHROMIUM,
    CHROMIUM_FLAGS,
    mark_npm_installed,
    npm_installed,
    serve,
)
from golden_site import copy_sample_site  # noqa: E402

from csblog.build import BuildOptions, build  # noqa: E402

TOOLS = REPO / "scripts" / "audit"
LIGHTHOUSE = TOOLS / "node_modules" / ".bin" / "lighthouse"
PAGES = {"home": "/", "essay": "/posts/forty-minutes-in-the-pharmacy-queue/"}
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_lighthouse() -> None:
    if npm_installed(TOOLS) and LIGHTHOUSE.exists():
        return
    npm = shutil.which("npm") or sys.exit("npm is missing: install Node.js 20 or newer")
    subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=TOOLS,
                   check=True)
    mark_npm_installed(TOOLS)


def lighthouse(url: str, preset: str, report: Path) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as profile:
        flags = " ".join((*CHROMIUM_FLAGS, f"--user-data-dir={profile}"))
        argv = [str(LIGHTHOUSE), url, "--quiet", "--output=json", f"--output-path={report}",
                f"--chrome-flags={flags}", f"--only-categories={','.join(CATEGORIES)}"]
        if preset == "desktop":
            argv.append("--preset=desktop")
        subprocess.run(argv, check=True, env={**os.environ, "CHROME_PATH": str(CHROMIUM)})
    result = json.loads(report.read_text(encoding="utf-8"))
    return {c: round(100 * (result["categories"][c]["score"] or 0)) for c in CATEGORIES}


def failed_audits(report: Path) -> list[str]:
    result = json.loads(report.read_text(encoding="utf-8"))
    out = []
    for category in CATEGORIES:
        for ref in result["categories"][category]["auditRefs"]:
            audit = result["audits"][ref["id"]]
            if ref["weight"] and audit["score"] is not None and audit["score"] < 1:
                out.append(f"{category}: {audit['id']} ({audit['score']}): {audit['title']}")
    return out


def screenshots(base_url: str, out: Path) -> list[Path]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    saved = []
    with tempfile.TemporaryDirectory() as profile:
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--hide-scrollbars"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        try:
            for name, path in PAGES.items():
                for width in (390, 1280):
                    for scheme in ("light", "dark"):
                        metrics = {"width": width, "height": 900, "deviceScaleFactor": 1,
                                   "mobile": width < 768}
                        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
                        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [
                            {"name": "prefers-color-scheme", "value": scheme}]})
                        driver.get(base_url + path)
                        height = driver.execute_script(
                            "return document.documentElement.scrollHeight")
                        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                               {**metrics, "height": int(height)})
                        target = out / f"{name}-{width}-{scheme}.png"
                        driver.save_screenshot(str(target))
                        saved.append(target)
        finally:
            driver.quit()
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "audit")
    parser.add_argument("--no-lighthouse", action="store_true")
    parser.add_argument("--no-screenshots", action="store_true")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    port = free_port()
    base_url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryDirectory() as tmp:
        site = copy_sample_site(Path(tmp) / "site")
        output = build(site, BuildOptions(base_url=base_url)).output
        server, _ = serve(output, port=port)
        worst = 100
        try:
            if not args.no_lighthouse:
                ensure_lighthouse()
                for name, path in PAGES.items():
                    for preset in ("desktop", "mobile"):
                        report = out / f"lighthouse-{name}-{preset}.json"
                        scores = lighthouse(base_url.rstrip("/") + path, preset, report)
                        worst = min(worst, *scores.values())
                        line = " ".join(f"{c} {s:3d}" for c, s in scores.items())
                        print(f"{name:6} {preset:8} {line}", flush=True)
                        for problem in failed_audits(report):
                            print(f"    {problem}")
            if not args.no_screenshots:
                for shot in screenshots(base_url.rstrip("/"), out):
                    print(f"screenshot: {shot}")
        finally:
            server.shutdown()
            server.server_close()
    return 0 if worst == 100 else 1


if __name__ == "__main__":
    sys.exit(main())
