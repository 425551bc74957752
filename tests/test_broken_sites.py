"""Deliberately broken sites (tests/broken_sites/<name>/): each must fail with a named message,
and the output of the last good build must be left exactly as it was.

Each folder is a tiny site plus `expected.txt`:

    break: <path>      a file that breaks the site; the first build runs without it (or with
                       <path>.good in its place), the second with it
    symlink: <path> -> outside/<name>   a link the test makes (git keeps no links leaving a folder)
    exit: <code>       what the second build must exit with
    where: <file[:line[:column]]>   a place the messages must name (every one listed)
    says: <text>       a fragment the messages must contain (every one listed)
    title: <url> = <title>   for sites that build: the page's h1 text

Pathological input that is generated rather than committed (a 10 MB essay, 10,000 nested quotes
or list items) is at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import Result, page, post

BROKEN_SITES = Path(__file__).resolve().parent / "broken_sites"
Runner = Callable[..., Result]


@dataclass
class Expected:
    exit_code: int = 1
    breaks: list[str] = field(default_factory=list)
    symlinks: list[tuple[str, str]] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    says: list[str] = field(default_factory=list)
    titles: list[tuple[str, str]] = field(default_factory=list)


def read_expected(folder: Path) -> Expected:
    expected = Expected()
    for raw in (folder / "expected.txt").read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        key, _, value = raw.partition(":")
        value = value.strip()
        if key == "break":
            expected.breaks.append(value)
        elif key == "symlink":
            link, _, target = value.partition(" -> ")
            expected.symlinks.append((link, target))
        elif key == "exit":
            expected.exit_code = int(value)
        elif key == "where":
            expected.where.append(value)
        elif key == "says":
            expected.says.append(value)
        elif key == "title":
            url, _, title = value.partition(" = ")
            expected.titles.append((url, title))
        else:
            raise AssertionError(f"{folder.name}/expected.txt: unknown key {key!r}")
    assert expected.breaks or expected.symlinks, f"{folder.name}: nothing breaks the site"
    return expected


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under a folder: relative path -> bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(output: Path) -> list[str]:
    """Staging or old output folders a build left beside the output folder."""
    return sorted(p.name for p in output.parent.iterdir()
                  if p.name.startswith(f".{output.name}.csblog-"))


def names_place(stderr: str, where: str) -> bool:
    """True when a message starts with this file (and line/column) followed by ':'."""
    return re.search(rf"^(error|warning): {re.escape(where)}:", stderr, re.MULTILINE) is not None


@contextmanager
def pipe_watch(fifo: Path) -> Iterator[list[bool]]:
    """Notice whether anyone opens a named pipe for reading while the block runs.

    Opening a pipe for reading blocks until a writer comes; a non-blocking open for writing
    succeeds only while a reader waits. The watcher then lets the reader go (it reads nothing).
    """
    opened = [False]
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.005)
                continue
            opened[0] = True
            os.close(fd)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield opened
    finally:
        stop.set()
        thread.join()


def make_outside(folder: Path) -> None:
    """What the symlinks of a broken site point at: things outside the site."""
    folder.mkdir()
    os.mkfifo(folder / "secret.md")
    (folder / "posts").mkdir()
    (folder / "posts" / "2024-01-05-secret.md").write_text(
        post("SECRET-OUTSIDE-THE-SITE", "SECRET-OUTSIDE-THE-SITE"), encoding="utf-8")


SITE_NAMES = sorted(p.name for p in BROKEN_SITES.iterdir() if (p / "expected.txt").is_file())


def test_every_case_of_the_issue_has_a_broken_site() -> None:
    assert len(SITE_NAMES) >= 21, SITE_NAMES


@pytest.mark.parametrize("name", SITE_NAMES)
def test_broken_site(name: str, tmp_path: Path, build_site: Runner) -> None:
    source = BROKEN_SITES / name
    expected = read_expected(source)
    root = tmp_path / "site"
    shutil.copytree(source, root, symlinks=True,
                    ignore=shutil.ignore_patterns("expected.txt", "*.good"))
    output = root / "public"

    # a good build first: without the breaking files (or with their .good versions)
    for rel in expected.breaks:
        good = source / f"{rel}.good"
        if good.is_file():
            shutil.copyfile(good, root / rel)
        else:
            (root / rel).unlink()
    first = build_site(root)
    assert first.exit_code == 0, first.stderr
    before = snapshot(output)
    assert "index.html" in before

    # then break it
    for rel in expected.breaks:
        shutil.copyfile(source / rel, root / rel)
    if expected.symlinks:
        make_outside(tmp_path / "outside")
    for link, target in expected.symlinks:
        (root / link).parent.mkdir(parents=True, exist_ok=True)
        (root / link).symlink_to(tmp_path / target)
    fifo = tmp_path / "outside" / "secret.md"
    if fifo.exists():
        assert stat.S_ISFIFO(fifo.stat().st_mode)
        with pipe_watch(fifo) as opened:
            result = build_site(root)
        assert not opened[0], "csblog opened a file outside the site"
    else:
        result = build_site(root)

    assert result.exit_code == expected.exit_code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for where in expected.where:
        assert names_place(result.stderr, where), f"no message names {where}:\n{result.stderr}"
    for fragment in expected.says:
        assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"
    assert leftovers(output) == []
    if expected.exit_code == 0:
        for url, title in expected.titles:
            heading = page(output, url).xpath("//main//h1")
            assert [h.text_content().strip() for h in heading] == [title]
    else:
        assert result.stderr.startswith("error: ") or result.stderr.startswith("warning: ")
        assert snapshot(output) == before, "a failed build changed the previous output"
    for data in snapshot(output).values():
        assert b"SECRET-OUTSIDE-THE-SITE" not in data


# --- generated: too big to commit -------------------------------------------------------------

BASIC = 'title = "Big"\nbase_url = "https://example.org/"\n'


def _site(root: Path, files: dict[str, str]) -> Path:
    root.mkdir()
    (root / "csblog.toml").write_text(BASIC, encoding="utf-8")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def test_a_10_mb_essay_builds(tmp_path: Path, build_site: Runner) -> None:
    paragraph = ("The night clerk kept a notebook of every complaint, and every one of them "
                 "taught her something about waiting. ") * 8
    paragraphs = []
    size = 0
    while size < 10 * 1024 * 1024:
        paragraphs.append(f"{paragraph}{len(paragraphs)}\n\n")
        size += len(paragraphs[-1])
    root = _site(tmp_path / "site", {
        "content/posts/2024-01-01-long.md": post("A very long essay", "".join(paragraphs))})
    result = build_site(root)
    assert result.exit_code == 0, result.stderr
    doc = page(root / "public", "/posts/long/")
    assert doc.xpath("string(//main//h1)").strip() == "A very long essay"
    assert len(doc.xpath("//main//p[contains(., 'taught her')]")) == len(paragraphs)


@pytest.mark.parametrize("body", [
    "> " * 10_000 + "deep\n",
    "- " * 10_000 + "item\n",  # a list item holding a list item holding ...
    "1. " * 10_000 + "item\n",
    "> - 1. " * 3_000 + "item\n",
    "".join("    " * i + "- item\n" for i in range(400)),
], ids=["blockquotes", "list-items", "numbered-items", "mixed", "indented-items"])
def test_deep_nesting_builds(body: str, tmp_path: Path, build_site: Runner) -> None:
    root = _site(tmp_path / "site", {
        "content/posts/2024-01-01-good.md": post("Good"),
        "content/posts/2024-01-02-deep.md": post("Deep", body),
    })
    result = build_site(root)
    assert result.exit_code == 0, result.stderr
    doc = page(root / "public", "/posts/deep/")
    assert doc.xpath("string(//main//h1)").strip() == "Deep"
    assert "item" in doc.xpath("string(//main)") or "deep" in doc.xpath("string(//main)")


@pytest.mark.parametrize("body", [
    "[" * 1_000 + "x" + "]" * 1_000 + "\n",
    "*" * 10_000 + "x" + "*" * 10_000 + "\n",
    "_" * 10_000 + "x" + "_" * 10_000 + "\n",
    "`" * 10_000 + "\n",
    "<div>" * 10_000 + "\n",
], ids=["brackets", "asterisks", "underscores", "backticks", "html-divs"])
def test_pathological_markdown_builds_or_fails_cleanly(body: str, tmp_path: Path,
                                                       build_site: Runner) -> None:
    root = _site(tmp_path / "site", {
        "content/posts/2024-01-01-good.md": post("Good"),
        "content/posts/2024-01-02-odd.md": post("Odd", body),
    })
    result = build_site(root)
    if result.exit_code == 0:
        assert page(root / "public", "/posts/odd/").xpath("string(//main//h1)").strip() == "Odd"
    else:
        assert result.exit_code == 1
        assert names_place(result.stderr, "content/posts/2024-01-02-odd.md"), result.stderr
        assert not (root / "public").exists()
