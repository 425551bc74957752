"""csblog serve in a real browser: save a file, and the open page shows the change by itself."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from browser_support import start_chromium
from golden_site import copy_sample_site

from csblog.serving import ServeOptions, Session

ESSAY = "content/posts/2024-08-17-the-night-clerk.md"


def wait_until(check: object, timeout: float = 90) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


@pytest.mark.usefixtures("system_tools")
def test_saving_an_essay_updates_the_open_page(tmp_path: Path) -> None:
    site = copy_sample_site(tmp_path / "site")
    session = Session(site, ServeOptions(port=0))
    url = session.start()
    driver = start_chromium(tmp_path / "profile", javascript=True)
    try:
        driver.get(url + "posts/the-night-clerk/")
        # the page is listening once its EventSource is open
        assert wait_until(lambda: driver.execute_script(
            "return document.documentElement.dataset.csblogLive === 'listening'"))
        driver.execute_script("window.csblogMarker = 'not reloaded by hand';")
        source = site / ESSAY
        source.write_text(source.read_text() + "\nA line the reader sees at once.\n")
        assert wait_until(lambda: "A line the reader sees at once." in driver.find_element(
            "tag name", "main").text), "the page did not show the change"
        # it reloaded by itself: the marker set on the old page is gone
        assert driver.execute_script("return window.csblogMarker === undefined")

        source.write_text("---\ntitle: [unclosed\n---\n")
        assert wait_until(lambda: driver.execute_script(
            "const o = document.getElementById('csblog-error-overlay');"
            "return o !== null && o.textContent.includes('2024-08-17-the-night-clerk.md')"))
    finally:
        driver.quit()
        session.stop()
