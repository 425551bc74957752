"""`csblog serve`: the real server on an ephemeral port, real file edits, real HTTP."""

from __future__ import annotations

import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import lxml.html
import pytest
from golden_site import tree
from helpers import Result, post

from csblog.errors import UsageError
from csblog.serving import SERVE_DIR, ServeOptions, Session
from csblog.watching import Rebuilder

Site = Callable[..., Path]
Runner = Callable[..., Result]
CONFIG = 'title = "T"\nbase_url = "https://example.org/"\nemail = "me@example.org"\n'
FILES = {
    "content/posts/2024-01-01-first.md": post("First", "The first essay.", tags=["a"]),
    "content/posts/2024-01-02-second.md": post("Second", "The second essay.", tags=["a", "b"]),
    "content/posts/2024-01-03-draft.md": post("Draft", "Unfinished.", draft=True),
    "static/css/extra.css": "body { color: black; }\n",
}


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_for(session: Session, generation: int, timeout: float = 90) -> str:
    """The kind of the next event after `generation` ('reload', 'css', 'error', 'ok')."""
    status = session.live.wait(generation, timeout)
    assert status.generation > generation, "no rebuild happened"
    return status.kind


def edit(path: Path, text: str) -> None:
    """Save as an editor does: write a temporary file, then rename it over the original."""
    temporary = path.with_name(path.name + "~")
    temporary.write_text(text)
    temporary.replace(path)


@pytest.fixture
def served(site: Site) -> Iterator[tuple[Session, str]]:
    root = site(CONFIG, FILES)
    session = Session(root, ServeOptions(port=0, drafts=True))
    url = session.start()
    yield session, url
    session.stop()


def text_of(url: str) -> str:
    status, body = get(url)
    assert status == 200, (url, status)
    return " ".join(lxml.html.fromstring(body).text_content().split())


def test_served_pages_get_the_reload_script_but_built_files_do_not(
        served: tuple[Session, str]) -> None:
    session, url = served
    doc = lxml.html.fromstring(get(url + "posts/first/")[1])
    assert doc.xpath("//script/@src") == ["/__csblog/live.js"]
    built = lxml.html.parse(str(session.output / "posts/first/index.html")).getroot()
    assert built.xpath("//script[@src]") == []
    assert get(url + "__csblog/live.js")[0] == 200
    assert "Unfinished." in text_of(url + "posts/draft/")  # --drafts


def test_pretty_urls_404_and_no_way_out(served: tuple[Session, str]) -> None:
    session, url = served
    status, body = get(url + "no/such/page/")
    assert status == 404
    assert lxml.html.fromstring(body).xpath("//h1")  # the theme's 404 page
    request = urllib.request.Request(url + "posts/first")
    with urllib.request.urlopen(request, timeout=10) as response:  # follows the redirect
        assert response.url.endswith("/posts/first/")
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(b"GET /../csblog.toml HTTP/1.0\r\n\r\n")
        answer = raw.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.0 404") and 'title = "T"' not in answer


def test_a_save_rebuilds_and_tells_open_pages(served: tuple[Session, str]) -> None:
    session, url = served
    generation = session.live.status.generation
    edit(session.site_dir / "content/posts/2024-01-02-second.md",
         post("Second", "A sentence added while the page was open.", tags=["a", "b"]))
    assert wait_for(session, generation) == "reload"
    assert "A sentence added while the page was open." in text_of(url + "posts/second/")
    times = session.last_times
    assert times is not None and times.changed <= times.started <= times.built <= times.told


def test_the_event_stream_carries_the_reload(served: tuple[Session, str]) -> None:
    session, url = served
    lines: list[str] = []

    def listen() -> None:
        with urllib.request.urlopen(url + "__csblog/events", timeout=90) as stream:
            for raw in stream:
                lines.append(raw.decode().strip())
                if lines[-1].startswith("data:") and "event: reload" in lines:
                    return

    listener = threading.Thread(target=listen)
    listener.start()
    time.sleep(0.3)
    edit(session.site_dir / "content/posts/2024-01-01-first.md", post("First", "Changed."))
    listener.join(timeout=90)
    assert "event: reload" in lines


def test_a_css_change_swaps_stylesheets(served: tuple[Session, str]) -> None:
    session, _ = served
    generation = session.live.status.generation
    edit(session.site_dir / "static/css/extra.css", "body { color: navy; }\n")
    assert wait_for(session, generation) == "css"


def test_a_broken_save_keeps_the_last_good_site_and_says_why(
        served: tuple[Session, str]) -> None:
    session, url = served
    source = session.site_dir / "content/posts/2024-01-01-first.md"
    generation = session.live.status.generation
    edit(source, "---\ntitle: [unclosed\n---\nBroken.\n")
    assert wait_for(session, generation) == "error"
    assert "2024-01-01-first.md" in session.live.status.message
    assert "The first essay." in text_of(url + "posts/first/")  # still the last good page
    generation = session.live.status.generation
    edit(source, post("First", "Fixed now."))
    assert wait_for(session, generation) == "reload"
    assert session.last_error is None
    assert "Fixed now." in text_of(url + "posts/first/")


def test_after_any_edits_the_served_site_equals_a_clean_build(
        served: tuple[Session, str], run_cli: Runner) -> None:
    session, _ = served
    root = session.site_dir
    steps: list[Callable[[], None]] = [
        lambda: edit(root / "content/posts/2024-01-02-second.md",
                     post("Second, retitled", "New text.", tags=["b", "c"])),
        lambda: (root / "content/posts/2024-01-04-new.md").write_text(post("New", "Hello.")),
        lambda: (root / "content/posts/2024-01-01-first.md").rename(
            root / "content/posts/2024-01-05-first-moved.md"),
        lambda: (root / "content/posts/2024-01-04-new.md").unlink(),
        lambda: (root / "templates").mkdir() or (root / "templates/page.html").write_text(
            '{% extends "default/page.html" %}'),
        lambda: edit(root / "csblog.toml", CONFIG.replace('"T"', '"Renamed"')),
    ]
    for step in steps:
        generation = session.live.status.generation
        step()
        assert wait_for(session, generation) == "reload"
    result = run_cli("-C", str(root), "build", "--drafts", "-o", "clean")
    assert result.exit_code == 0, result.stderr
    assert tree(root / SERVE_DIR) == tree(root / "clean")


def _write_in_place(path: Path, text: str) -> None:
    with path.open("w") as file:  # truncate, then write in two parts
        file.write(text[:10])
        file.flush()
        file.write(text[10:])


def _rename_over(path: Path, text: str) -> None:
    edit(path, text)


def _keep_a_backup(path: Path, text: str) -> None:
    """As vim does: move the original aside, write a new file, set its mode, drop the backup."""
    backup = path.with_name(path.name + "~")
    mode = path.stat().st_mode
    path.rename(backup)
    path.write_text(text)
    os.chmod(path, mode)
    backup.unlink()


@pytest.mark.parametrize("save", [_write_in_place, _rename_over, _keep_a_backup])
def test_one_save_is_one_rebuild_of_the_whole_text(site: Site, save: Callable[[Path, str], None]
                                                   ) -> None:
    root = site(CONFIG, FILES)
    source = root / "content/posts/2024-01-01-first.md"
    seen: list[tuple[set[Path], str]] = []
    done = threading.Event()

    def rebuild(changed: set[Path]) -> None:
        seen.append((changed, source.read_text() if source.exists() else ""))
        done.set()

    rebuilder = Rebuilder(root, rebuild)
    rebuilder.start()
    try:
        time.sleep(0.2)
        for i in range(3):
            done.clear()
            text = post("First", f"Saved for the {i}th time. " * 40)
            save(source, text)
            assert done.wait(10), "no rebuild"
            time.sleep(0.3)  # time for a second rebuild, which must not come
            assert len(seen) == i + 1, [sorted(p.name for p in c) for c, _ in seen]
            assert seen[-1] == ({source}, text)
    finally:
        rebuilder.stop()


def test_idle_runs_once_after_a_rebuild_on_the_same_thread(site: Site) -> None:
    root = site(CONFIG, FILES)
    calls: list[tuple[str, str]] = []

    def rebuild(changed: set[Path]) -> None:
        time.sleep(0.1)
        calls.append(("rebuild", threading.current_thread().name))

    rebuilder = Rebuilder(root, rebuild,
                          idle=lambda: calls.append(("idle", threading.current_thread().name)))
    rebuilder.start()
    try:
        time.sleep(0.2)
        assert calls == []  # nothing to tidy before a rebuild
        edit(root / "content/posts/2024-01-01-first.md", post("First", "Once."))
        deadline = time.monotonic() + 10
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.8)
        assert calls == [("rebuild", "csblog-rebuild"), ("idle", "csblog-rebuild")]
    finally:
        rebuilder.stop()


def test_a_port_in_use_is_a_clear_error(site: Site) -> None:
    root = site(CONFIG, FILES)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        session = Session(root, ServeOptions(port=port))
        with pytest.raises(UsageError) as caught:
            session.start()
        session.stop()
    assert f"port {port} is already in use" in str(caught.value)
    assert "--port" in str(caught.value)


def test_stopping_leaves_no_threads_or_staging_folders(site: Site) -> None:
    before = threading.active_count()
    root = site(CONFIG, FILES)
    session = Session(root, ServeOptions(port=0))
    url = session.start()
    get(url)
    session.stop()
    deadline = time.monotonic() + 10
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == before
    assert [p.name for p in root.iterdir() if "csblog-staging" in p.name] == []
