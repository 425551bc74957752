"""Walk a site folder and list its source files; read a source file as text.

Ignored everywhere: hidden files and folders (".git", ".DS_Store"), names starting with "_",
and editors' temporary files ("notes.md~", "#notes.md#", ".#notes.md", "*.swp", "*.tmp").
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import NamedTuple

from csblog.errors import ContentError, Problem

CONTENT_DIR = "content"
STATIC_DIR = "static"
THEMES_DIR = "themes"
MARKDOWN_SUFFIXES = (".md", ".markdown")


class SourceFile(NamedTuple):
    """A file of the site: its absolute path and its path relative to the site (with '/'), and
    its size and modification time when it was found (-1 when they could not be read).

    (A named tuple: a site has thousands, and every build makes them all.)"""

    file: str
    rel: str
    size: int = -1
    mtime_ns: int = -1

    @property
    def path(self) -> Path:
        return Path(self.file)


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
    problems: tuple[Problem, ...] = ()  # links that point outside the site
    taken_ns: int = 0  # when the walk began: a file modified after that may be newer than seen


_IGNORED_STARTS = (".", "_", "#", "~")
_IGNORED_ENDS = ("~", ".swp", ".swx", ".tmp", ".bak")


def is_ignored(name: str) -> bool:
    """True for hidden, underscore and editor temporary file names."""
    return name.startswith(_IGNORED_STARTS) or name.endswith(_IGNORED_ENDS)


def walk_files(root: Path, site_dir: Path,
               problems: list[Problem] | None = None) -> Iterator[SourceFile]:
    """Every file under root that is not ignored, in sorted order, with its size and time.

    Symbolic links are followed only while they stay inside the site folder; one that points
    outside it is reported in `problems` (never read), and a link loop is visited once.
    """
    if not root.is_dir():
        return
    site_real = site_dir.resolve()
    root_text, root_rel = str(root), root.relative_to(site_dir).as_posix()
    seen: set[Path] = set()
    stack = [str(root)]
    while stack:
        dirpath = stack.pop()
        real = Path(dirpath).resolve()
        if real in seen or not _inside(real, site_real, Path(dirpath), site_dir, problems):
            continue
        seen.add(real)
        try:
            entries = sorted(os.scandir(dirpath), key=_name)
        except OSError:
            continue
        # (a folder may hold thousands of essays: what is the same for all is done once)
        parts = [root_rel] if root_rel != "." else []  # (root is the site folder itself)
        if dirpath != root_text:
            parts.append(dirpath[len(root_text) + 1 :].replace(os.sep, "/"))
        prefix = "".join(f"{part}/" for part in parts)
        folders = []
        for entry in entries:
            name = entry.name
            if name.startswith(_IGNORED_STARTS) or name.endswith(_IGNORED_ENDS):
                continue
            try:
                is_dir = entry.is_dir()  # follows links, as os.walk(followlinks=True) did
            except OSError:
                continue
            if is_dir:
                folders.append(entry.path)
                continue
            if entry.is_symlink():
                path = Path(entry.path)
                if not _inside(path.resolve(), site_real, path, site_dir, problems):
                    continue
            try:
                stat = entry.stat()  # (of the file a link points to)
                yield SourceFile(entry.path, prefix + name, stat.st_size, stat.st_mtime_ns)
            except OSError:  # gone, or a broken link: reading it will say so
                yield SourceFile(entry.path, prefix + name)
        stack.extend(reversed(folders))  # depth first, in sorted order


_name = attrgetter("name")


def _inside(real: Path, site_real: Path, path: Path, site_dir: Path,
            problems: list[Problem] | None) -> bool:
    if real.is_relative_to(site_real):
        return True
    if problems is not None:
        problems.append(Problem(
            f"this is a link to {real}, outside the site folder; it was not read",
            path.relative_to(site_dir).as_posix(),
            hint="copy the file into the site instead of linking to it"))
    return False


def _is_markdown(source: SourceFile) -> bool:
    return source.rel.lower().endswith(MARKDOWN_SUFFIXES)


def discover(site_dir: Path) -> SiteSources:
    """List the sources of the site in `site_dir`."""
    taken_ns = time.time_ns()
    problems: list[Problem] = []
    content = site_dir / CONTENT_DIR
    posts: list[SourceFile] = []
    pages: list[SourceFile] = []
    assets: list[SourceFile] = []
    for folder, bucket in (("posts", posts), ("pages", pages)):
        for source in walk_files(content / folder, site_dir, problems):
            (bucket if _is_markdown(source) else assets).append(source)
    authors = [s for s in walk_files(content / "authors", site_dir, problems) if _is_markdown(s)]
    comments = [s for s in walk_files(content / "comments", site_dir, problems)
                if _is_markdown(s)]
    static = list(walk_files(site_dir / STATIC_DIR, site_dir, problems))
    return SiteSources(tuple(posts), tuple(pages), tuple(authors), tuple(comments),
                       tuple(assets), tuple(static), tuple(problems), taken_ns)


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
