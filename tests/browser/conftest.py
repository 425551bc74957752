"""Fixtures for checking the built sample site as browsers, validators and readers see it.

The tools install themselves once per session, so `python3 -m pytest` on a fresh machine needs
nothing more than the README's quick start:

- Debian's chromium and chromedriver (and Java for the Nu HTML Checker): installed with apt-get
  when missing and we are root on a machine that has it;
- the Nu HTML Checker (npm `vnu-jar`) and axe-core (npm `axe-core`): `npm ci --ignore-scripts` into
  `.test-tools/node_modules/` (gitignored), pinned by `.test-tools/package-lock.json`, reused when
  present.

A tool that cannot be installed fails the session when the environment variable CI is set (a CI
run must never pass by skipping), and skips the browser tests with the reason otherwise.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import (
    APT_PACKAGES,
    AXE_JS,
    CHROMEDRIVER,
    CHROMIUM,
    TOOLS,
    VNU_JAR,
    Browser,
    apt_install,
    mark_npm_installed,
    npm_installed,
    run,
    serve,
    start_chromium,
    unavailable,
)
from golden_site import build_sample


@pytest.fixture(scope="session")
def system_tools() -> None:
    """Chromium, chromedriver, Java and npm, installed with apt-get if missing."""
    missing: list[str] = []
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        missing += APT_PACKAGES
    if shutil.which("java") is None:
        missing.append("default-jre-headless")
    if shutil.which("npm") is None:
        missing.append("npm")
    apt_install(missing)


@pytest.fixture(scope="session")
def npm_tools(system_tools: None) -> Path:
    """`.test-tools/node_modules` with vnu-jar and axe-core, as pinned by the lock file."""
    if npm_installed(TOOLS) and VNU_JAR.is_file() and AXE_JS.is_file():
        return TOOLS / "node_modules"
    npm = shutil.which("npm")
    if npm is None:
        unavailable("npm is missing (Node.js 18 or newer installs it); it installs vnu-jar "
                    "and axe-core for the browser tests")
    # --ignore-scripts: vnu-jar's postinstall only downloads a Java runtime we do not need.
    ok, log = run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=TOOLS)
    if not ok or not (VNU_JAR.is_file() and AXE_JS.is_file()):
        unavailable(f"npm ci in {TOOLS} failed:\n{log}")
    mark_npm_installed(TOOLS)
    return TOOLS / "node_modules"


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the sample site built into a temporary folder; returns its output folder."""
    return build_sample(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="session")
def site_url(built_site: Path) -> Iterator[str]:
    """The built sample site, served over HTTP for the length of the session."""
    server, url = serve(built_site)
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser(system_tools: None, site_url: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"), javascript=True)
    yield Browser(driver, site_url)
    driver.quit()


@pytest.fixture(scope="session")
def browser_without_js(system_tools: None, site_url: str,
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    driver = start_chromium(tmp_path_factory.mktemp("chromium-nojs"), javascript=False)
    yield Browser(driver, site_url)
    driver.quit()
