"""`csblog check` finds what readers would trip over, and writes nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import Result, post

CONFIG = 'title = "T"\nbase_url = "https://example.org/blog/"\nemail = "site@example.org"\n'
Site = Callable[..., Path]
Runner = Callable[..., Result]


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def test_a_clean_site_passes_and_nothing_is_written(site: Site, run_cli: Runner) -> None:
    root = site(CONFIG, {
        "content/posts/2024-01-01-a.md": post("A", "See [B](2024-01-02-b.md) and [tags](/tags/)."),
        "content/posts/2024-01-02-b.md": post("B", "![A counter](img.svg)"),
        "content/posts/img.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
    })
    result = run_cli("-C", str(root), "check")
    assert result.exit_code == 0, result.stderr
    assert error_lines(result) == []
    assert result.stdout.splitlines()[-1].endswith("0 errors, 0 warnings")
    assert not (root / "public").exists()


def test_broken_links_and_images_name_the_essay(site: Site, run_cli: Runner) -> None:
    root = site(CONFIG, {
        "content/posts/2024-01-01-a.md": post(
            "A", "[gone](/posts/nowhere/), ![A sign](missing.png), ![](img.svg), "
                 "[ok](/archive/) and [also ok](img.svg)"),
        "content/posts/img.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
        "content/posts/2024-01-02-b.md": post("B", "[absolute](https://example.org/blog/x/)"),
    })
    result = run_cli("-C", str(root), "check")
    assert result.exit_code == 1
    errors = error_lines(result)
    a = "content/posts/2024-01-01-a.md"
    assert any(a in e and "/blog/posts/nowhere/" in e for e in errors), errors
    assert any(a in e and "missing.png" in e and "does not exist" in e for e in errors), errors
    assert [e for e in errors if "no alt text" in e] == [
        next(e for e in errors if "no alt text" in e and "img.svg" in e)]
    assert any("2024-01-02-b.md" in e and "/blog/x/" in e for e in errors), errors
    assert not any("/archive/" in e for e in errors)


def test_duplicates_left_out_posts_and_reply_addresses(site: Site, run_cli: Runner) -> None:
    root = site('title = "T"\nbase_url = "https://example.org/"\n', {
        "content/authors/kim.md": "---\nname: Kim\n---\nNo email here.\n",
        "content/posts/2024-01-01-a.md": post("Same title", author="kim"),
        "content/posts/2024-01-02-b.md": post("Same Title", comments=False),
        "content/posts/2024-01-03-c.md": post("Draft", draft=True),
        "content/posts/2099-01-03-d.md": post("Later"),
    })
    result = run_cli("-C", str(root), "check")
    assert result.exit_code == 1
    assert any("2024-01-01-a.md" in e and "no address" in e for e in error_lines(result))
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert any("have the title" in w and "2024-01-02-b.md" in w for w in warnings), warnings
    assert any("Kim" in w and "no email" in w for w in warnings), warnings
    notes = [line for line in result.stdout.splitlines() if line.startswith("note:")]
    assert any("2024-01-03-c.md" in n and "draft" in n for n in notes), notes
    assert any("2099-01-03-d.md" in n and "2099-01-03" in n for n in notes), notes


class _Handler(BaseHTTPRequestHandler):
    """/ok answers; /gone is 404; /no-head refuses HEAD but answers GET."""

    def _answer(self, head: bool) -> None:
        if self.path == "/gone" or (head and self.path == "/no-head"):
            self.send_response(404 if self.path == "/gone" else 405)
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's API)
        self._answer(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(head=False)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def link_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_external_links_are_checked_only_when_asked(site: Site, run_cli: Runner,
                                                    link_server: str) -> None:
    body = (f"[ok]({link_server}/ok) [gone]({link_server}/gone) "
            f"[get only]({link_server}/no-head)")
    root = site(CONFIG, {"content/posts/2024-01-01-a.md": post("A", body)})
    assert run_cli("-C", str(root), "check").exit_code == 0
    result = run_cli("-C", str(root), "check", "--external", "--timeout", "5")
    assert result.exit_code == 1
    errors = error_lines(result)
    assert len(errors) == 1 and "/gone" in errors[0] and "HTTP 404" in errors[0], errors
    assert "3 external" in result.stdout
