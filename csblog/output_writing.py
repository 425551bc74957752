"""Write rendered pages and copy static files into the output folder, atomically.

A build writes into a staging folder beside the output and swaps it in only when everything
succeeded, so a failed or interrupted build leaves the previous output exactly as it was. A page
whose bytes did not change is hard-linked from the previous output instead of rewritten, so it
keeps its modification time (cheap deploys and rsync). Files an earlier build wrote and this one
does not are dropped; files the writer put into the output folder themselves are carried over.
What csblog wrote is recorded in a manifest in the cache folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from csblog.errors import CsblogError, Problem
from csblog.page_rendering import RenderedPage

CACHE_DIR = ".csblog-cache"
_STAGING = ".csblog-staging-"
_OLD = ".csblog-old-"


@dataclass(frozen=True)
class CopiedFile:
    """A file copied as it is: its source and its path relative to the output folder."""

    source: Path
    path: str
    origin: str  # for messages: "static/CNAME", "theme default: css/style.css"


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
    if output.exists() and not output.is_dir():
        raise CsblogError(f"refusing to build into {output}: it is a file, not a folder",
                          hint="choose an output folder of its own, such as 'public'")


def safe_output_path(rel: str) -> str:
    """Check that a path from the site stays inside the output folder."""
    parts = rel.split("/")
    if (not rel or rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in parts)
            or any(ord(c) < 32 for c in rel) or re.match(r"^[a-zA-Z]:", rel)):
        raise CsblogError(f"refusing to write {rel!r}: the path would leave the output folder",
                          hint="use plain names for slugs, aliases and files")
    return rel


def _manifest_path(site_dir: Path, output: Path) -> Path:
    # an output inside the site is named relative to it, so the record survives moving the site
    output, site = output.resolve(), site_dir.resolve()
    name = output.relative_to(site).as_posix() if output.is_relative_to(site) else str(output)
    key = hashlib.sha1(name.encode()).hexdigest()[:12]
    return site_dir / CACHE_DIR / f"output-{key}.json"


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def recover_leftovers(output: Path) -> None:
    """Clear what an interrupted build left beside the output folder.

    A build killed between its two renames leaves the previous output as '.<name>.csblog-old-*':
    it is put back if the output folder is missing. Staging folders are removed.
    """
    parent, name = output.parent, output.name
    if not parent.is_dir():
        return
    for entry in sorted(parent.iterdir()):
        if entry.name.startswith(f".{name}{_OLD}"):
            if not output.exists():
                os.rename(entry, output)
            else:
                shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(f".{name}{_STAGING}"):
            shutil.rmtree(entry, ignore_errors=True)


class OutputWriter:
    """Writes one build into a staging folder; `commit()` swaps it in.

    Use as a context manager: leaving the block without committing (an error, Ctrl-C) removes
    the staging folder and leaves the output untouched.
    """

    def __init__(self, output: Path, site_dir: Path) -> None:
        self.output = output
        self.site_dir = site_dir
        self.staging = output.parent / f".{output.name}{_STAGING}{os.getpid()}"
        self.manifest_file = _manifest_path(site_dir, output)
        self.previous: dict[str, list[int | str]] = {}
        self.entries: dict[str, list[int | str]] = {}
        self.origins: dict[str, str] = {}
        self.written = 0
        self.unchanged = 0

    def __enter__(self) -> OutputWriter:
        recover_leftovers(self.output)
        self.previous = self._load_manifest()
        self.staging.mkdir(parents=True)
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.staging.exists():
            shutil.rmtree(self.staging, ignore_errors=True)

    def _load_manifest(self) -> dict[str, list[int | str]]:
        try:
            data = json.loads(self.manifest_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if isinstance(data, list):  # the first manifest format: paths only
            return {rel: [-1, "", 0] for rel in data if isinstance(rel, str)}
        return data.get("files", {}) if isinstance(data, dict) else {}

    def has(self, rel: str) -> bool:
        return rel in self.entries

    def write(self, rel: str, data: bytes, origin: str) -> None:
        """Stage one file. Two writes to one path are an error naming both origins."""
        safe_output_path(rel)
        if rel in self.entries:
            raise CsblogError(f"{origin} and {self.origins[rel]} would both be written to {rel}",
                              hint="give one of them another slug or file name")
        digest = _digest(data)
        target = self.staging / rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not self._link_unchanged(rel, len(data), digest, target):
                target.write_bytes(data)
                self.written += 1
        except OSError as exc:
            raise CsblogError(f"cannot write {rel} in the output folder: {exc.strerror}",
                              str(self.output / rel),
                              hint="check that the output folder's parent is writable") from None
        stat = target.stat()
        self.entries[rel] = [len(data), digest, stat.st_mtime_ns]
        self.origins[rel] = origin

    def write_page(self, page: RenderedPage) -> None:
        self.write(page.path, page.data, "a generated page")

    def copy(self, copy: CopiedFile) -> None:
        try:
            data = copy.source.read_bytes()
        except OSError as exc:
            raise CsblogError(f"cannot read the file: {exc.strerror}", copy.origin) from None
        self.write(copy.path, data, copy.origin)

    def _link_unchanged(self, rel: str, size: int, digest: str, target: Path) -> bool:
        """Hard-link the previous output's file when it is what this build would write."""
        old = self.previous.get(rel)
        if old is None or old[0] != size or old[1] != digest:
            return False
        current = self.output / rel
        try:
            stat = current.lstat()
            if not current.is_file() or stat.st_size != size:
                return False
            if stat.st_mtime_ns != old[2] and _digest(current.read_bytes()) != digest:
                return False  # changed by hand since: write it anew
            os.link(current, target)
        except OSError:
            return False
        self.unchanged += 1
        return True

    def _carry_over_own_files(self) -> None:
        """Files in the output that no csblog build wrote belong to the writer: keep them."""
        if not self.output.is_dir():
            return
        for dirpath, _dirnames, filenames in os.walk(self.output):
            for name in filenames:
                path = Path(dirpath) / name
                rel = path.relative_to(self.output).as_posix()
                if rel in self.previous or rel in self.entries:
                    continue
                target = self.staging / rel
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                except OSError:
                    raise CsblogError(
                        f"your own file {rel} in the output folder stands where csblog writes "
                        "a page now", str(path),
                        hint="move that file out of the output folder") from None
                if path.is_symlink():
                    os.symlink(os.readlink(path), target)
                else:
                    try:
                        os.link(path, target)
                    except OSError:
                        shutil.copy2(path, target)

    def commit(self) -> WriteReport:
        """Swap the staged build in for the output folder and record what was written."""
        self._carry_over_own_files()
        removed = sum(1 for rel in self.previous if rel not in self.entries)
        old = self.output.parent / f".{self.output.name}{_OLD}{os.getpid()}"
        if self.output.exists():
            os.rename(self.output, old)
        os.rename(self.staging, self.output)
        self.manifest_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.manifest_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"files": self.entries}, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.manifest_file)
        if old.exists():
            shutil.rmtree(old, ignore_errors=True)
        return WriteReport(self.written, self.unchanged, removed)


def copy_problems(writer: OutputWriter, copies: list[CopiedFile]) -> list[Problem]:
    """Copy static files after the pages: a later copy of a path replaces an earlier one (the
    site's static/ over the theme's), but none may replace a generated page."""
    chosen: dict[str, CopiedFile] = {}
    problems = []
    for copy in copies:
        if writer.has(copy.path):
            problems.append(Problem(f"this file would overwrite the generated page {copy.path}",
                                    copy.origin, hint="rename or move the file"))
            continue
        chosen[copy.path] = copy
    for copy in chosen.values():
        writer.copy(copy)
    return problems
