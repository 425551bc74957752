"""Nothing lost: csblog writes only inside its output folder, swaps a build in atomically, keeps
the writer's own files, and survives being killed or interrupted.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import REPO, Result, make_site, page, post

Runner = Callable[..., Result]
BASIC = 'title = "Safe"\nbase_url = "https://example.org/"\n'


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every file and folder under `folder` (folders as None, links by their target)."""
    tree: dict[str, bytes | None] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            tree[rel] = os.readlink(path).encode()
        elif path.is_dir():
            tree[rel] = None
        else:
            tree[rel] = path.read_bytes()
    return tree


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(output: Path) -> list[str]:
    return sorted(p.name for p in output.parent.iterdir()
                  if p.name.startswith(f".{output.name}.csblog-"))


def small_site(root: Path) -> Path:
    return make_site(root, BASIC, {
        "content/posts/2024-01-01-first.md": post("First", tags=["queues"]),
        "content/pages/about.md": post("About"),
        "static/robots-note.txt": "mine\n",
        "themes/quiet/templates/base.html": '{% extends "default/base.html" %}\n',
        "templates/.keep": "",
    })


# --- the output-folder guard -----------------------------------------------------------------

@pytest.mark.parametrize(("output", "why"), [
    (".", "site folder"),
    ("..", "site folder"),
    ("../..", "site folder"),
    ("public/..", "site folder"),
    ("content", "inside content/"),
    ("content/posts", "inside content/"),
    ("static", "inside static/"),
    ("themes", "inside themes/"),
    ("themes/quiet", "inside themes/"),
    ("templates", "inside templates/"),
    (".csblog-cache", "inside .csblog-cache/"),
    ("notes.txt", "is a file"),
])
def test_output_guard_refuses_dangerous_folders(output: str, why: str, tmp_path: Path,
                                                run_cli: Runner) -> None:
    root = small_site(tmp_path / "box" / "site")
    (root / "notes.txt").write_text("my notes\n", encoding="utf-8")
    (root / ".csblog-cache").mkdir()
    before = snapshot(tmp_path)
    result = run_cli("-C", str(root), "build", "-o", output)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.stderr.startswith("error: ") and "refusing to build into" in result.stderr
    assert why in result.stderr, result.stderr
    assert "hint:" in result.stderr
    assert snapshot(tmp_path) == before, "a refused build wrote something"


@pytest.mark.parametrize("output", ["content", "static/site", "."])
def test_output_guard_applies_to_the_config_file_too(output: str, tmp_path: Path,
                                                     run_cli: Runner) -> None:
    root = small_site(tmp_path / "site")
    (root / "csblog.toml").write_text(BASIC + f'output_dir = "{output}"\n', encoding="utf-8")
    before = snapshot(tmp_path)
    result = run_cli("-C", str(root), "build")
    assert result.exit_code == 1 and "refusing to build into" in result.stderr, result.stderr
    assert snapshot(tmp_path) == before


def test_output_guard_sees_through_a_symlink(tmp_path: Path, run_cli: Runner) -> None:
    root = small_site(tmp_path / "site")
    (root / "public").symlink_to(root / "content", target_is_directory=True)
    before = snapshot(tmp_path)
    result = run_cli("-C", str(root), "build")
    assert result.exit_code == 1 and "inside content/" in result.stderr, result.stderr
    assert snapshot(tmp_path) == before


def test_an_output_folder_outside_the_site_is_fine(tmp_path: Path, run_cli: Runner) -> None:
    root = small_site(tmp_path / "site")
    result = run_cli("-C", str(root), "build", "-o", str(tmp_path / "elsewhere"))
    assert result.exit_code == 0, result.stderr
    assert page(tmp_path / "elsewhere", "/posts/first/").xpath("//main//h1")
    assert not (root / "public").exists()


# --- the writer's own files, stale pages -----------------------------------------------------

def test_own_files_survive_and_stale_pages_go(tmp_path: Path, build_site: Runner) -> None:
    root = make_site(tmp_path / "site", BASIC, {
        "content/posts/2024-01-01-keep.md": post("Keep", tags=["stays"]),
        "content/posts/2024-01-02-gone.md": post("Gone", tags=["goes"]),
    })
    output = root / "public"
    assert build_site(root).exit_code == 0
    assert (output / "posts/gone/index.html").is_file()
    assert (output / "tags/goes/index.html").is_file()
    (output / "CNAME").write_text("essays.example.org\n", encoding="utf-8")
    (output / "downloads").mkdir()
    (output / "downloads" / "talk.pdf").write_bytes(b"%PDF-1.4 mine")
    (output / "posts" / "notes.txt").write_text("beside the essays\n", encoding="utf-8")

    (root / "content/posts/2024-01-02-gone.md").unlink()
    for _ in range(2):  # and again: the manifest of the second build must still know
        result = build_site(root)
        assert result.exit_code == 0, result.stderr
        assert not (output / "posts/gone").exists()
        assert not (output / "tags/goes").exists()
        assert (output / "posts/keep/index.html").is_file()
        assert (output / "CNAME").read_text(encoding="utf-8") == "essays.example.org\n"
        assert (output / "downloads/talk.pdf").read_bytes() == b"%PDF-1.4 mine"
        assert (output / "posts/notes.txt").read_text(encoding="utf-8") == "beside the essays\n"
        assert leftovers(output) == []


def test_stale_pages_go_after_an_upgrade_from_the_json_manifest(tmp_path: Path,
                                                               build_site: Runner) -> None:
    """csblog 0.1 recorded what it wrote as JSON; what it recorded is still known."""
    import json
    import pickle

    root = make_site(tmp_path / "site", BASIC, {
        "content/posts/2024-01-01-keep.md": post("Keep"),
        "content/posts/2024-01-02-gone.md": post("Gone"),
    })
    assert build_site(root).exit_code == 0
    (record,) = (root / ".csblog-cache").glob("output-*.pickle")
    files = pickle.loads(record.read_bytes())["files"]
    record.with_suffix(".json").write_text(json.dumps({"files": files}), encoding="utf-8")
    record.unlink()
    (root / "content/posts/2024-01-02-gone.md").unlink()
    assert build_site(root).exit_code == 0
    assert not (root / "public/posts/gone").exists()
    assert (root / "public/posts/keep/index.html").is_file()
    assert not list((root / ".csblog-cache").glob("output-*.json"))


def test_stale_pages_go_after_the_site_folder_moved(tmp_path: Path,
                                                  build_site: Runner) -> None:
    root = make_site(tmp_path / "site", BASIC, {
        "content/posts/2024-01-01-keep.md": post("Keep"),
        "content/posts/2024-01-02-gone.md": post("Gone"),
    })
    assert build_site(root).exit_code == 0
    moved = tmp_path / "renamed-site"
    root.rename(moved)
    (moved / "public" / "CNAME").write_text("mine\n", encoding="utf-8")
    (moved / "content/posts/2024-01-02-gone.md").unlink()
    assert build_site(moved).exit_code == 0
    assert not (moved / "public/posts/gone").exists(), "the stale page was kept as 'own'"
    assert (moved / "public/CNAME").read_text(encoding="utf-8") == "mine\n"


def test_a_failed_build_leaves_the_output_and_own_files(tmp_path: Path,
                                                        build_site: Runner) -> None:
    root = make_site(tmp_path / "site", BASIC, {"content/posts/2024-01-01-a.md": post("A")})
    output = root / "public"
    assert build_site(root).exit_code == 0
    (output / "CNAME").write_text("mine\n", encoding="utf-8")
    before = files(output)
    (root / "content/posts/2024-01-02-b.md").write_text("---\ntitle: [\n---\n", encoding="utf-8")
    assert build_site(root).exit_code == 1
    assert files(output) == before
    assert leftovers(output) == []


# --- killed and interrupted builds -----------------------------------------------------------

POSTS = 300


@pytest.fixture(scope="module")
def big_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site that takes a few seconds to write, built once."""
    from csblog.build import build

    root = tmp_path_factory.mktemp("big") / "site"
    words = ("Plain words about service, waiting and the people behind the counter. " * 30
             + "\n\n") * 6
    posts = {f"content/posts/2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}-essay-{i}.md":
             f"---\ntitle: Essay {i}\ntags: [t{i % 25}, all]\n---\n{words}"
             for i in range(POSTS)}
    make_site(root, BASIC, posts)
    build(root)
    return root


def _start_build(root: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.Popen([sys.executable, "-m", "csblog", "-C", str(root), "build"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_staging(process: subprocess.Popen[str], output: Path) -> Path:
    """The staging folder, once the build has begun writing into it."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for entry in output.parent.iterdir():
            if entry.name.startswith(f".{output.name}.csblog-staging-") and any(entry.iterdir()):
                return entry
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the build ended before it was interrupted: {out}{err}")
        time.sleep(0.002)
    process.kill()
    pytest.fail("no staging folder appeared")


def _interrupted_copy(big_site: Path, tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    root = tmp_path / "site"
    shutil.copytree(big_site, root, symlinks=True)
    output = root / "public"
    (output / "CNAME").write_text("mine\n", encoding="utf-8")
    # the next build would change every page
    (root / "csblog.toml").write_text(BASIC.replace('"Safe"', '"Renamed"'), encoding="utf-8")
    return root, files(output)


def _rebuild_small(root: Path, build_site: Runner) -> None:
    """The next build (of fewer posts, to be quick) clears what the interrupted one left."""
    for path in sorted((root / "content/posts").glob("*.md"))[3:]:
        path.unlink()
    result = build_site(root)
    assert result.exit_code == 0, result.stderr
    output = root / "public"
    assert leftovers(output) == []
    assert len(list((output / "posts").iterdir())) == 3
    assert (output / "CNAME").read_text(encoding="utf-8") == "mine\n"
    title = page(output, "/").xpath("string(//title)")
    assert "Renamed" in title


def test_a_killed_build_leaves_the_previous_output(big_site: Path, tmp_path: Path,
                                                  build_site: Runner) -> None:
    root, before = _interrupted_copy(big_site, tmp_path)
    output = root / "public"
    process = _start_build(root)
    _wait_for_staging(process, output)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert files(output) == before, "a killed build changed the previous output"
    _rebuild_small(root, build_site)


def test_ctrl_c_leaves_the_previous_output(big_site: Path, tmp_path: Path,
                                          build_site: Runner) -> None:
    root, before = _interrupted_copy(big_site, tmp_path)
    output = root / "public"
    process = _start_build(root)
    _wait_for_staging(process, output)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err, err
    assert leftovers(output) == [], "Ctrl-C left a staging folder"
    assert files(output) == before
    _rebuild_small(root, build_site)


def test_ctrl_c_in_a_terminal_while_parsing(big_site: Path, tmp_path: Path) -> None:
    """A terminal sends SIGINT to the whole process group, worker processes included."""
    root, before = _interrupted_copy(big_site, tmp_path)
    shutil.rmtree(root / ".csblog-cache")  # parse everything again, in worker processes
    output = root / "public"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    process = subprocess.Popen([sys.executable, "-m", "csblog", "-C", str(root), "build"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env, start_new_session=True)
    time.sleep(0.6)
    os.killpg(process.pid, signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err, err
    assert files(output) == before
    assert leftovers(output) == []


# --- paths from front matter and settings stay inside the output ------------------------------

HOSTILE_PATHS = [
    "../../escaped",
    "../../../../../../tmp/escaped",
    "/etc/escaped",
    "..\\..\\escaped",
    "C:\\escaped",
    "C:/escaped",
    "c:escaped",
    "a/../../../escaped",
    "nul\x00byte",
    "line\nbreak",
    "esc\x1b[31mape",
    "tab\there",
    "./../escaped",
    "....//....//escaped",
    "%2e%2e/%2e%2e/escaped",
    "~/escaped",
    "//evil.example/escaped",
]


def _assert_contained(box: Path, root: Path, before_box: list[str]) -> None:
    output = (root / "public").resolve()
    assert sorted(p.name for p in box.iterdir()) == before_box, "something was written beside"
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if rel.split("/")[0] in ("public", ".csblog-cache", "content", "csblog.toml"):
            continue
        raise AssertionError(f"csblog wrote {rel} outside its output folder")
    if output.is_dir():
        for path in output.rglob("*"):
            assert not path.is_symlink()
            assert path.resolve().is_relative_to(output), path
    for escaped in (Path("/tmp/escaped"), Path("/etc/escaped"), Path.home() / "escaped"):
        assert not escaped.exists(), escaped


@pytest.mark.parametrize("value", HOSTILE_PATHS)
def test_hostile_slugs_and_aliases_stay_inside(value: str, tmp_path: Path,
                                               build_site: Runner) -> None:
    box = tmp_path / "box"
    root = make_site(box / "site", BASIC, {
        "content/posts/2024-01-01-slug.md": post("Slug", slug=value),
        "content/posts/2024-01-02-alias.md": post("Alias", aliases=[value, f"/old/{value}"]),
        "content/pages/page.md": post("Page", slug=value, aliases=[value]),
    })
    before_box = sorted(p.name for p in box.iterdir())
    content_before = snapshot(root / "content")
    result = build_site(root)
    assert result.exit_code in (0, 1), result.stderr
    if result.exit_code == 1:
        assert "content/" in result.stderr  # names the file
    _assert_contained(box, root, before_box)
    assert snapshot(root / "content") == content_before



@pytest.mark.parametrize("pattern", [
    "/../{slug}/", "/{year}/../../{slug}/", "../{slug}/", "C:/{slug}/", "//evil/{slug}/",
    "/posts\\{slug}/",
    "/{slug}/\x00/",
])
def test_hostile_permalinks_stay_inside(pattern: str, tmp_path: Path,
                                        build_site: Runner) -> None:
    box = tmp_path / "box"
    config = BASIC + "[permalinks]\nposts = " + _toml_string(pattern) + "\n"
    root = make_site(box / "site", config,
                     {"content/posts/2024-01-01-escaped.md": post("Escaped")})
    before_box = sorted(p.name for p in box.iterdir())
    result = build_site(root)
    assert result.exit_code in (0, 1), result.stderr
    if result.exit_code == 1:
        assert "csblog.toml" in result.stderr or "content/" in result.stderr, result.stderr
    _assert_contained(box, root, before_box)


def _toml_string(text: str) -> str:
    return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}"
                         for c in text) + '"'


@pytest.mark.parametrize("name", ["..md", "...md", "-.md", "Ω.md", "con.md", "a b.md",
                                  "2024-01-01-..md", "2024-01-01-.md"])
def test_odd_file_names_stay_inside(name: str, tmp_path: Path, build_site: Runner) -> None:
    box = tmp_path / "box"
    root = make_site(box / "site", BASIC, {f"content/posts/{name}": post("Odd", date="2024-01-01"),
                                           f"content/pages/{name}": post("Odd page")})
    before_box = sorted(p.name for p in box.iterdir())
    result = build_site(root)
    assert result.exit_code in (0, 1), result.stderr
    _assert_contained(box, root, before_box)


# --- csblog new ------------------------------------------------------------------------------

def test_new_never_overwrites(tmp_path: Path, run_cli: Runner) -> None:
    root = make_site(tmp_path / "site", BASIC)
    assert run_cli("-C", str(root), "new", "The Rude Counter").exit_code == 0
    (created,) = (root / "content/posts").glob("*.md")
    created.write_text("my words\n", encoding="utf-8")
    for title in ("The Rude Counter", "the rude counter!", "The  rude -- counter"):
        result = run_cli("-C", str(root), "new", title)
        assert result.exit_code != 0 and created.name in result.stderr, result.stderr
        assert created.read_text(encoding="utf-8") == "my words\n"
    assert len(list((root / "content/posts").iterdir())) == 1


def test_new_does_not_write_through_a_dangling_link(tmp_path: Path, run_cli: Runner) -> None:
    root = make_site(tmp_path / "site", BASIC)
    assert run_cli("-C", str(root), "new", "Placeholder").exit_code == 0
    (created,) = (root / "content/posts").glob("*.md")
    target = tmp_path / "outside.md"
    created.unlink()
    created.symlink_to(target)  # dangling: opening with "x" must not create the target
    result = run_cli("-C", str(root), "new", "Placeholder")
    assert result.exit_code != 0
    assert not target.exists()


# --- interrupted while moving the new files into place ----------------------------------------

def _site_about_to_change(root: Path) -> tuple[Path, dict[str, bytes]]:
    """A built site, and a change to it that replaces, adds and removes output files."""
    from csblog.build import build

    make_site(root, BASIC, {f"content/posts/2024-01-{i + 1:02d}-essay-{i}.md":
                            post(f"Essay {i}", tags=[f"t{i % 4}"]) for i in range(20)})
    build(root)
    output = root / "public"
    (output / "CNAME").write_text("mine\n", encoding="utf-8")
    before = files(output)
    (root / "csblog.toml").write_text(BASIC.replace('"Safe"', '"Renamed"'), encoding="utf-8")
    for i in range(3):
        (root / f"content/posts/2024-01-{i + 1:02d}-essay-{i}.md").unlink()
        (root / f"content/posts/2024-02-{i + 1:02d}-new-{i}.md").write_text(
            post(f"New {i}", tags=["fresh"]), encoding="utf-8")
    return output, before


def _clean_build(root: Path, tmp_path: Path) -> dict[str, bytes]:
    """What a build from nothing of the same site writes (plus the writer's CNAME)."""
    from csblog.build import BuildOptions, build

    clean = tmp_path / "clean"
    shutil.copytree(root, clean, ignore=shutil.ignore_patterns("public", ".csblog-cache"))
    build(clean, BuildOptions(output_dir="out"))
    return {**files(clean / "out"), "CNAME": b"mine\n"}


@pytest.mark.parametrize("moves", [1, 10, 30])
def test_ctrl_c_while_moving_files_in_leaves_the_previous_output(
        moves: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from csblog.build import build

    root = tmp_path / "site"
    output, before = _site_about_to_change(root)
    real_replace = os.replace
    count = 0

    def interrupted(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        nonlocal count
        if ".csblog-staging-" in str(src) and f"{os.sep}new{os.sep}" in str(src):
            count += 1
            if count == moves:
                raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build(root)
    monkeypatch.undo()
    assert count == moves, "the build never got to moving files"
    assert files(output) == before, "Ctrl-C while moving files left a mix of two builds"
    folders = {p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_dir()}
    assert folders == {parent.as_posix() for rel in before for parent in Path(rel).parents
                       if parent != Path(".")}, "folders of the new build were left"
    assert leftovers(output) == []


KILL_WHILE_MOVING = """
import os, sys
real_replace = os.replace
count = 0
def replace(src, dst):
    global count
    if ".csblog-staging-" in str(src) and os.sep + "new" + os.sep in str(src):
        count += 1
        if count == {moves}:
            os._exit(137)  # as if killed: nothing runs after this
    real_replace(src, dst)
os.replace = replace
from csblog.cli import main
sys.exit(main(["-C", {root!r}, "build"]))
"""


def _kill_while_moving(root: Path, moves: int) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, "-c", KILL_WHILE_MOVING.format(moves=moves,
                                                                          root=str(root))],
                          capture_output=True, text=True, env=env, check=False, timeout=120)
    assert done.returncode == 137, done.stdout + done.stderr


@pytest.mark.parametrize("moves", [1, 30])
def test_killed_while_moving_files_in_the_next_build_repairs(
        moves: int, tmp_path: Path, build_site: Runner) -> None:
    root = tmp_path / "site"
    output, _before = _site_about_to_change(root)
    _kill_while_moving(root, moves)
    result = build_site(root)
    assert result.exit_code == 0, result.stderr
    assert leftovers(output) == []
    assert files(output) == _clean_build(root, tmp_path)


# the journal is read only when the next build starts writing (OutputWriter.__enter__), so a
# next build that stops earlier on a content error leaves the half-moved files: recovery belongs
# at the start of build() (build.py is not mine to change: see the report)
@pytest.mark.parametrize("moves", [1, 30])
def test_killed_while_moving_files_in_a_failing_next_build_restores(
        moves: int, tmp_path: Path, build_site: Runner) -> None:
    root = tmp_path / "site"
    output, before = _site_about_to_change(root)
    _kill_while_moving(root, moves)
    (root / "content/posts/2024-03-01-broken.md").write_text("---\ntitle: [\n---\n",
                                                             encoding="utf-8")
    result = build_site(root)
    assert result.exit_code == 1, result.stderr
    assert files(output) == before, "the half-moved build was left in place"
    assert leftovers(output) == []
