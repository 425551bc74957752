"""Write rendered pages and copy static files into the output folder, all or nothing.

A build stages the files whose bytes changed in a folder beside the output and moves them into
place only when everything succeeded, so a failed build leaves the previous output exactly as it
was. The move is journalled, with a backup of every file it replaces or removes: a build killed
while moving is rolled back by the next run. Unchanged files are never touched, so they keep their
modification times (cheap deploys and rsync) and a build that changes little costs little. Files
an earlier build wrote and this one does not are removed; files the writer put into the output
folder themselves are never touched. What csblog wrote is recorded in a manifest in the cache
folder. A first build into a missing output folder is staged whole and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG as stat_is_file
from types import TracebackType
from typing import NamedTuple

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


def _manifest_path(site_dir: Path, output: Path, suffix: str = ".pickle") -> Path:
    # an output inside the site is named relative to it, so the record survives moving the site
    output, site = output.resolve(), site_dir.resolve()
    name = output.relative_to(site).as_posix() if output.is_relative_to(site) else str(output)
    key = hashlib.sha1(name.encode()).hexdigest()[:12]
    return site_dir / CACHE_DIR / f"output-{key}{suffix}"


def _load_manifest(site_dir: Path, output: Path) -> dict[str, list[int | str]] | None:
    """rel -> [size, digest, mtime] of every file the last build wrote or kept; None when there
    is no record. The record is a pickle (read and written at every build: 15,000 entries at
    10,000 essays); csblog 0.1's was JSON, and is still read so that its files stay known."""
    try:
        with _manifest_path(site_dir, output).open("rb") as handle:
            data = pickle.load(handle)
    except FileNotFoundError:
        try:
            data = json.loads(_manifest_path(site_dir, output, ".json").read_text(
                encoding="utf-8"))
        except (OSError, ValueError):
            return None
    except Exception:  # noqa: BLE001 (damaged: as if there were none)
        return None
    if isinstance(data, list):  # the first manifest format: paths only
        return {rel: [-1, "", 0] for rel in data if isinstance(rel, str)}
    files = data.get("files") if isinstance(data, dict) else None
    return files if isinstance(files, dict) else None


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _journal(staging: Path) -> dict[str, list[str]] | None:
    try:
        data = json.loads((staging / "journal.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def recover_leftovers(output: Path) -> None:
    """Undo what an interrupted build left beside the output folder.

    A build killed while moving its files into place left a journal: the files it had placed are
    taken out again and the backups of what they replaced are put back. Staging folders are then
    removed. (Folders named '-old-' come from csblog 0.1's whole-folder swap.)
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
            journal = _journal(entry)
            if journal is not None:
                _roll_back(output, entry, journal)
            shutil.rmtree(entry, ignore_errors=True)


def _roll_back(output: Path, staging: Path, journal: dict[str, list[str]]) -> None:
    for rel in journal.get("added", []):
        target = output / rel
        if target.is_file() and not (staging / "new" / rel).exists():
            target.unlink()  # it was moved into place: take it out again
        _prune_empty_parents(target.parent, output)  # and the folders made for it
    for rel in journal.get("replaced", []) + journal.get("removed", []):
        backup = staging / "old" / rel
        if backup.is_file():
            (output / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(backup, output / rel)


def output_is_intact(output: Path, site_dir: Path) -> int | None:
    """The number of files of the last build when every one is still as that build left it.

    None when the output cannot be trusted to be unchanged: no manifest, a file missing, or a
    file whose size or modification time differs (edited or replaced by hand). One lstat() per
    file, nothing read.
    """
    try:
        files = _load_manifest(site_dir, output)
        if files is None:
            return None
        prefix = str(output) + os.sep
        for rel, (size, _, mtime) in files.items():
            stat = os.lstat(prefix + rel)
            if stat.st_size != size or stat.st_mtime_ns != mtime or not stat_is_file(stat.st_mode):
                return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return len(files)


class StagedFile(NamedTuple):
    """A file `OutputWriter.stage` took care of: staged anew, or (`current`, its manifest entry)
    found in the output with these very bytes."""

    path: str
    size: int
    digest: str
    current: list[int | str] | None


class OutputWriter:
    """Stages one build beside the output folder; `commit()` puts it in place.

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
        self.origins: dict[str, str] = {}  # of the files recorded (a kept one is a page)
        self._prefix = f"{output}{os.sep}"
        self.staged: list[str] = []  # files whose bytes changed (or are new)
        self.fresh = False  # no output folder yet: stage everything and rename the folder
        self.written = 0
        self.unchanged = 0

    def __enter__(self) -> OutputWriter:
        recover_leftovers(self.output)
        self.previous = self._load_manifest()
        self.fresh = not self.output.exists()
        self.staging.mkdir(parents=True)
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.staging.exists():
            journal = _journal(self.staging)
            if journal is not None:  # stopped (Ctrl-C, an error) while moving files into place
                _roll_back(self.output, self.staging, journal)
            shutil.rmtree(self.staging, ignore_errors=True)

    def _load_manifest(self) -> dict[str, list[int | str]]:
        return _load_manifest(self.site_dir, self.output) or {}

    def has(self, rel: str) -> bool:
        return rel in self.entries

    def write(self, rel: str, data: bytes, origin: str) -> None:
        """Stage one file. Two writes to one path are an error naming both origins."""
        safe_output_path(rel)
        self._check_unclaimed(rel, origin)
        self.record(self.stage(rel, data), origin)

    def stage(self, rel: str, data: bytes) -> StagedFile:
        """Put one file's bytes in the staging folder, unless the output holds them already.

        Only files are touched, no bookkeeping: a forked worker may stage the pages it
        rendered, and the parent then `record`s what it sends back.
        """
        safe_output_path(rel)
        digest = _digest(data)
        current = self._unchanged(rel, len(data), digest)
        if current is None:
            target = f"{self.staging}{os.sep}new{os.sep}{rel}"
            try:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "wb") as handle:
                    handle.write(data)
            except OSError as exc:
                raise CsblogError(f"cannot write {rel}: {exc.strerror}", str(self.output / rel),
                                  hint="check that the output folder's parent is writable"
                                  ) from None
        return StagedFile(rel, len(data), digest, current)

    def record(self, staged: StagedFile, origin: str) -> None:
        """Note a staged file (see `stage`). Two files for one path are an error naming both."""
        rel = staged.path
        self._check_unclaimed(rel, origin)
        self.origins[rel] = origin
        if staged.current is not None:
            self.entries[rel] = staged.current
            self.unchanged += 1
        else:
            self.staged.append(rel)
            self.entries[rel] = [staged.size, staged.digest, 0]  # the time is known once in place
            self.written += 1

    def _check_unclaimed(self, rel: str, origin: str) -> None:
        if rel in self.entries:
            first = self.origins.get(rel, "a generated page")  # (a kept file is a page)
            raise CsblogError(f"{origin} and {first} would both be written to {rel}",
                              hint="give one of them another slug or file name")

    def keep(self, rel: str) -> bool:
        """Keep the output's file as the last build left it (its page did not change).

        False when that cannot be trusted: no record of it, or it was changed since.
        """
        # (this runs for every page, 15,000 times at 10,000 essays: no Path, no copies)
        old = self.previous.get(rel)
        if old is None or self.fresh or rel in self.entries:
            return False
        try:
            stat = os.lstat(self._prefix + rel)
        except OSError:
            return False
        if stat.st_mtime_ns != old[2] or stat.st_size != old[0] or not stat_is_file(stat.st_mode):
            return False
        self.entries[rel] = old  # (only a staged file's entry is changed later, never this)
        self.unchanged += 1
        return True

    def write_page(self, page: RenderedPage) -> None:
        self.write(page.path, page.data, "a generated page")

    def copy(self, copy: CopiedFile) -> None:
        try:
            data = copy.source.read_bytes()
        except OSError as exc:
            raise CsblogError(f"cannot read the file: {exc.strerror}", copy.origin) from None
        self.write(copy.path, data, copy.origin)

    def _unchanged(self, rel: str, size: int, digest: str) -> list[int | str] | None:
        """The manifest entry when the output already holds exactly these bytes."""
        old = self.previous.get(rel)
        if self.fresh or old is None or old[0] != size or old[1] != digest:
            return None
        current = self.output / rel
        try:
            stat = current.lstat()
            if not current.is_file() or stat.st_size != size:
                return None
            if stat.st_mtime_ns != old[2] and _digest(current.read_bytes()) != digest:
                return None  # changed by hand since: write it anew
        except OSError:
            return None
        return [size, digest, stat.st_mtime_ns]

    def commit(self) -> WriteReport:
        """Put the staged files in place (journalled) and record what was written."""
        removed = [rel for rel in self.previous if rel not in self.entries]
        if self.fresh:
            new = self.staging / "new"
            new.mkdir(exist_ok=True)
            os.rename(new, self.output)
        else:
            self._move_into_place(removed)
        for rel in self.staged:
            self.entries[rel][2] = (self.output / rel).stat().st_mtime_ns
        self.manifest_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.manifest_file.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            pickle.dump({"files": self.entries}, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self.manifest_file)
        _manifest_path(self.site_dir, self.output, ".json").unlink(missing_ok=True)
        shutil.rmtree(self.staging, ignore_errors=True)
        return WriteReport(self.written, self.unchanged, len(removed) if not self.fresh else 0)

    def _move_into_place(self, removed: list[str]) -> None:
        output, staging = self.output, self.staging
        replaced = [rel for rel in self.staged
                    if (output / rel).is_file() or (output / rel).is_symlink()]
        added = [rel for rel in self.staged if rel not in set(replaced)]
        for rel in added:  # a writer's own file or folder in the way stops the build now
            _check_free(output, rel)
        journal = staging / "journal.json"
        journal.write_text(json.dumps({"added": added, "replaced": replaced,
                                       "removed": removed}), encoding="utf-8")
        for rel in replaced + removed:  # backups first, so a kill can always be undone
            target = output / rel
            if target.is_file():
                backup = staging / "old" / rel
                backup.parent.mkdir(parents=True, exist_ok=True)
                os.link(target, backup)
        for rel in self.staged:
            (output / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / "new" / rel, output / rel)
        for rel in removed:
            target = output / rel
            if target.is_file() or target.is_symlink():
                target.unlink()
                _prune_empty_parents(target.parent, output)
        journal.unlink()


def _check_free(output: Path, rel: str) -> None:
    target = output / rel
    parent = target.parent
    while parent != output:
        if parent.exists() and not parent.is_dir():
            raise CsblogError(f"a file of yours in the output folder, {parent.relative_to(output)},"
                              f" stands where csblog writes {rel}", str(parent),
                              hint="move that file out of the output folder")
        parent = parent.parent
    if target.is_dir():
        raise CsblogError(f"a folder of yours in the output folder stands where csblog writes "
                          f"{rel}", str(target), hint="move that folder out of the output folder")


def _prune_empty_parents(folder: Path, output: Path) -> None:
    while folder != output and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


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
