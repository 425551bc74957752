"""Write rendered pages and copy static files into the output folder.

A file is written only when its bytes change, so an unchanged page keeps its modification time
(cheap deploys). Files that an earlier build wrote and this one does not are removed; files that
csblog did not write are never touched. The list of written files is kept in the cache folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from csblog.errors import CsblogError, Problem
from csblog.page_rendering import RenderedPage

CACHE_DIR = ".csblog-cache"


@dataclass(frozen=True)
class CopiedFile:
    """A file copied as it is: its source and its path relative to the output folder."""

    source: Path
    path: str
    origin: str  # for messages: "static/CNAME", "theme default"


@dataclass(frozen=True)
class WriteReport:
    written: int
    unchanged: int
    removed: int


def check_output_dir(output: Path, site_dir: Path) -> None:
    """Refuse an output folder that would overwrite or delete the writer's own files."""
    output = output.resolve()
    site_dir = site_dir.resolve()
    if output == site_dir or site_dir.is_relative_to(output):
        raise CsblogError(
            f"refusing to build into {output}: it is or contains the site folder {site_dir}",
            hint="choose an output folder of its own, such as 'public'")
    for name in ("content", "static", "themes", "templates", CACHE_DIR):
        folder = site_dir / name
        if output == folder or output.is_relative_to(folder):
            raise CsblogError(
                f"refusing to build into {output}: it lies inside {name}/, "
                "which holds your own files",
                hint="choose an output folder of its own, such as 'public'")


def _manifest_path(site_dir: Path, output: Path) -> Path:
    key = hashlib.sha1(str(output.resolve()).encode()).hexdigest()[:12]
    return site_dir / CACHE_DIR / f"output-{key}.json"


def plan_copies(pages: Iterable[RenderedPage], copies: Iterable[CopiedFile]
                ) -> tuple[list[CopiedFile], list[Problem]]:
    """The copies to make: a later copy of the same path replaces an earlier one (the site's
    static/ over the theme's), but none may replace a generated page."""
    generated = {page.path for page in pages}
    chosen: dict[str, CopiedFile] = {}
    problems = []
    for copy in copies:
        if copy.path in generated:
            problems.append(Problem(
                f"this file would overwrite the generated page {copy.path}", copy.origin,
                hint="rename or move the file"))
            continue
        chosen[copy.path] = copy
    return list(chosen.values()), problems


def write_output(output: Path, site_dir: Path, pages: Iterable[RenderedPage],
                 copies: Iterable[CopiedFile]) -> WriteReport:
    written = unchanged = 0
    done: set[str] = set()
    for page in pages:
        target = output / page.path
        done.add(page.path)
        if _same_bytes(target, page.data):
            unchanged += 1
            continue
        _write(target, page.data, page.path)
        written += 1
    for copy in copies:
        target = output / copy.path
        done.add(copy.path)
        try:
            data = copy.source.read_bytes()
        except OSError as exc:
            raise CsblogError(f"cannot read the file: {exc.strerror}", copy.origin) from None
        if _same_bytes(target, data):
            unchanged += 1
            continue
        _write(target, data, copy.path)
        written += 1
    removed = _remove_stale(output, site_dir, done)
    return WriteReport(written, unchanged, removed)


def _write(target: Path, data: bytes, rel: str) -> None:
    """Write one output file; a file system problem is the writer's to fix, not a bug."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    except OSError as exc:
        raise CsblogError(f"cannot write {rel} in the output folder: {exc.strerror}",
                          str(target), hint="check that the output folder is writable and that "
                          "no folder stands where a file goes") from None


def _same_bytes(target: Path, data: bytes) -> bool:
    try:
        if target.stat().st_size != len(data):
            return False
        return target.read_bytes() == data
    except OSError:
        return False


def _remove_stale(output: Path, site_dir: Path, done: set[str]) -> int:
    """Remove what the previous build wrote and this one did not; record this build's files."""
    manifest = _manifest_path(site_dir, output)
    previous: list[str] = []
    if manifest.is_file():
        try:
            previous = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = []
    removed = 0
    for rel in previous:
        if rel in done or ".." in rel.split("/"):
            continue
        target = output / rel
        if target.is_file():
            target.unlink()
            removed += 1
            parent = target.parent
            while parent != output and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
    manifest.parent.mkdir(parents=True, exist_ok=True)
    tmp = manifest.with_suffix(".tmp")
    tmp.write_text(json.dumps(sorted(done)), encoding="utf-8")
    os.replace(tmp, manifest)
    return removed
