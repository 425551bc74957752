"""Walk a site folder and list its source files; read a source file as text.

Ignored everywhere: hidden files and folders (".git", ".DS_Store"), names starting with "_",
and editors' temporary files ("notes.md~", "#notes.md#", ".#notes.md", "*.swp", "*.tmp").
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from csblog.errors import ContentError

CONTENT_DIR = "content"
STATIC_DIR = "static"
THEMES_DIR = "themes"
MARKDOWN_SUFFIXES = (".md", ".markdown")


@dataclass(frozen=True)
class SourceFile:
    """A file of the site: its absolute path and its path relative to the site (with '/')."""

    path: Path
    rel: str


@dataclass(frozen=True)
class SiteSources:
    """Every source file of a site, sorted by relative path so builds are deterministic."""

    posts: tuple[SourceFile, ...]
    pages: tuple[SourceFile, ...]
    authors: tuple[SourceFile, ...]
    comments: tuple[SourceFile, ...]
    # non-Markdown files under content/posts and content/pages (images beside an essay)
    content_assets: tuple[SourceFile, ...]
    static: tuple[SourceFile, ...]


def is_ignored(name: str) -> bool:
    """True for hidden, underscore and editor temporary file names."""
    return (
        name.startswith((".", "_", "#", "~"))
        or name.endswith(("~", ".swp", ".swx", ".tmp", ".bak"))
    )


def walk_files(root: Path, site_dir: Path) -> Iterator[SourceFile]:
    """Every file under root that is not ignored, in sorted order."""
    if not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not is_ignored(d))
        for name in sorted(filenames):
            if is_ignored(name):
                continue
            path = Path(dirpath) / name
            yield SourceFile(path, path.relative_to(site_dir).as_posix())


def _is_markdown(source: SourceFile) -> bool:
    return source.path.suffix.lower() in MARKDOWN_SUFFIXES


def discover(site_dir: Path) -> SiteSources:
    """List the sources of the site in `site_dir`."""
    content = site_dir / CONTENT_DIR
    posts: list[SourceFile] = []
    pages: list[SourceFile] = []
    assets: list[SourceFile] = []
    for folder, bucket in (("posts", posts), ("pages", pages)):
        for source in walk_files(content / folder, site_dir):
            (bucket if _is_markdown(source) else assets).append(source)
    authors = [s for s in walk_files(content / "authors", site_dir) if _is_markdown(s)]
    comments = [s for s in walk_files(content / "comments", site_dir) if _is_markdown(s)]
    static = list(walk_files(site_dir / STATIC_DIR, site_dir))
    return SiteSources(tuple(posts), tuple(pages), tuple(authors), tuple(comments),
                       tuple(assets), tuple(static))


def decode_source(data: bytes, rel: str) -> str:
    """Bytes of a Markdown source -> text with '\\n' line endings. A BOM is dropped."""
    if b"\x00" in data:
        raise ContentError("this is a binary file, not Markdown text", rel,
                           hint="move images and other files out of the way, or give them "
                                "a name that does not end in .md")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ContentError(f"this file is not UTF-8 text (byte {data[exc.start]:#x})", rel, line,
                           hint="save the file as UTF-8 in your editor") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_source(source: SourceFile) -> str:
    """Read a Markdown source file as text."""
    try:
        data = source.path.read_bytes()
    except OSError as exc:
        raise ContentError(f"cannot read the file: {exc.strerror}", source.rel) from None
    return decode_source(data, source.rel)
