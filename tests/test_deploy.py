"""`csblog deploy` with real tools: a local bare git repository as the remote, real rsync."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from browser.browser_support import apt_install
from helpers import Result, post

Site = Callable[..., Path]
Runner = Callable[..., Result]
BASE = 'title = "Essays"\nbase_url = "https://example.org/"\nemail = "me@example.org"\n'
POSTS = {
    "content/posts/2024-01-01-first.md": post("First", "The first essay."),
    "content/posts/2024-01-02-second.md": post("Second", "The second essay."),
    "static/CNAME": "essays.example.org\n",
}


@pytest.fixture
def rsync() -> None:
    """Debian's rsync, installed with apt-get when missing (as root); under CI a missing rsync
    is a failure, elsewhere a skip."""
    if shutil.which("rsync") is None:
        apt_install(["rsync"])


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def files_of(root: Path, skip: str = "") -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not (skip and p.relative_to(root).parts[0] == skip)}


@pytest.fixture
def git_site(site: Site, tmp_path: Path) -> tuple[Path, Path]:
    """A site that is a git repository with uncommitted work, and an empty bare remote."""
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    config = BASE + f'\n[deploy.pages]\ntype = "git"\nremote = "{remote}"\n'
    root = site(config, {**POSTS, ".gitignore": "public/\n.csblog-cache/\n"})
    git("init", "-q", cwd=root)
    git("-c", "user.name=W", "-c", "user.email=w@example.org", "add", "csblog.toml", cwd=root)
    git("-c", "user.name=W", "-c", "user.email=w@example.org", "commit", "-qm", "site",
        cwd=root)
    git("add", "content", cwd=root)  # staged, not committed: the writer's work in progress
    return root, remote


def published(remote: Path, tmp_path: Path, name: str = "clone") -> Path:
    clone = tmp_path / name
    git("clone", "-q", "--branch", "gh-pages", str(remote), str(clone), cwd=tmp_path)
    return clone


def test_git_deploy_publishes_the_build_and_leaves_the_writer_alone(
        git_site: tuple[Path, Path], run_cli: Runner, tmp_path: Path) -> None:
    root, remote = git_site
    status_before = git("status", "--porcelain", cwd=root)
    staged_before = git("diff", "--cached", "--stat", cwd=root)
    result = run_cli("-C", str(root), "deploy")
    assert result.exit_code == 0, result.stderr
    clone = published(remote, tmp_path)
    tree = files_of(clone, skip=".git")
    assert tree.pop(".nojekyll") == b""
    assert tree == files_of(root / "public")
    assert tree["CNAME"] == b"essays.example.org\n"
    head = git("rev-parse", "--short", "HEAD", cwd=root)
    assert head in git("log", "-1", "--format=%s", cwd=clone)
    assert git("status", "--porcelain", cwd=root) == status_before
    assert git("diff", "--cached", "--stat", cwd=root) == staged_before


def test_git_deploy_keeps_history_and_commits_only_changes(
        git_site: tuple[Path, Path], run_cli: Runner, tmp_path: Path) -> None:
    root, remote = git_site
    assert run_cli("-C", str(root), "deploy").exit_code == 0
    again = run_cli("-C", str(root), "deploy")
    assert again.exit_code == 0 and "Nothing to publish" in again.stdout
    assert git("rev-list", "--count", "gh-pages", cwd=remote) == "1"

    essay = root / "content/posts/2024-01-02-second.md"
    essay.write_text(post("Second", "The second essay, revised."))
    dry = run_cli("-C", str(root), "deploy", "--dry-run")
    assert dry.exit_code == 0
    assert "  changed: posts/second/index.html" in dry.stdout.splitlines()
    assert git("rev-list", "--count", "gh-pages", cwd=remote) == "1"

    assert run_cli("-C", str(root), "deploy").exit_code == 0
    assert git("rev-list", "--count", "gh-pages", cwd=remote) == "2"
    clone = published(remote, tmp_path)
    assert files_of(clone, skip=".git")["posts/second/index.html"] == (
        root / "public/posts/second/index.html").read_bytes()


def test_a_broken_build_publishes_nothing(git_site: tuple[Path, Path],
                                          run_cli: Runner) -> None:
    root, remote = git_site
    (root / "content/posts/2024-01-03-bad.md").write_text("---\ntitle: [unclosed\n---\n")
    result = run_cli("-C", str(root), "deploy")
    assert result.exit_code == 1
    assert "nothing was published" in result.stderr and "2024-01-03-bad.md" in result.stderr
    assert git("branch", "--list", cwd=remote) == ""


def test_deploy_errors_are_clear(site: Site, run_cli: Runner, tmp_path: Path) -> None:
    none = site(BASE, POSTS)
    result = run_cli("-C", str(none), "deploy")
    assert result.exit_code == 2 and "no deploy target" in result.stderr
    missing = tmp_path / "no-such-remote.git"
    (none / "csblog.toml").write_text(
        BASE + f'[deploy.pages]\ntype = "git"\nremote = "{missing}"\n')
    result = run_cli("-C", str(none), "deploy", "elsewhere")
    assert result.exit_code == 2 and "targets in csblog.toml: pages" in result.stderr
    result = run_cli("-C", str(none), "deploy")
    assert result.exit_code == 1 and "cannot reach the remote" in result.stderr


@pytest.mark.usefixtures("rsync")
def test_rsync_deploy_sends_changes_and_keeps_the_writers_files(
        site: Site, run_cli: Runner, tmp_path: Path) -> None:
    dest = tmp_path / "www"
    dest.mkdir()
    (dest / "hand-made.html").write_text("mine")
    root = site(BASE + f'[deploy.server]\ntype = "rsync"\ndestination = "{dest}"\n', POSTS)
    assert run_cli("-C", str(root), "deploy").exit_code == 0
    assert files_of(dest) == {**files_of(root / "public"), "hand-made.html": b"mine"}
    kept = (dest / "CNAME").stat().st_ino

    (root / "content/posts/2024-01-02-second.md").unlink()
    dry = run_cli("-C", str(root), "deploy", "--dry-run")
    assert "  removed: posts/second/index.html" in dry.stdout.splitlines()
    assert (dest / "posts/second/index.html").exists()

    assert run_cli("-C", str(root), "deploy").exit_code == 0
    assert not (dest / "posts/second/index.html").exists()
    assert (dest / "hand-made.html").read_text() == "mine"
    assert files_of(dest) == {**files_of(root / "public"), "hand-made.html": b"mine"}
    assert (dest / "CNAME").stat().st_ino == kept  # unchanged: not sent again


def test_rsync_missing_is_a_clear_error(site: Site, run_cli: Runner, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    root = site(BASE + f'[deploy.server]\ntype = "rsync"\ndestination = "{tmp_path}/w"\n',
                POSTS)
    bare_path = tmp_path / "bin"
    bare_path.mkdir()
    monkeypatch.setenv("PATH", str(bare_path))  # a real PATH on which there is no rsync
    result = run_cli("-C", str(root), "deploy")
    assert result.exit_code == 1 and "rsync is not installed" in result.stderr


def test_ci_workflows_are_written_once(site: Site, run_cli: Runner) -> None:
    import yaml

    root = site(BASE, POSTS)
    assert run_cli("-C", str(root), "ci", "github").exit_code == 0
    workflow = yaml.safe_load((root / ".github/workflows/csblog.yml").read_text())
    steps = [s.get("run", s.get("uses", "")) for s in workflow["jobs"]["build"]["steps"]]
    assert "csblog build" in steps and "actions/upload-pages-artifact@v3" in steps
    again = run_cli("-C", str(root), "ci", "github")
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert run_cli("-C", str(root), "ci", "gitlab").exit_code == 0
    gitlab = yaml.safe_load((root / ".gitlab-ci.yml").read_text())
    assert gitlab["pages"]["artifacts"]["paths"] == ["public"]


def test_a_remote_that_refuses_the_push_is_a_clear_error(
        git_site: tuple[Path, Path], run_cli: Runner) -> None:
    root, remote = git_site
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'GH006: Protected branch update failed for gh-pages' >&2\n"
                    "exit 1\n")
    hook.chmod(0o755)
    result = run_cli("-C", str(root), "deploy")
    assert result.exit_code == 1
    assert "refused the push" in result.stderr and "Protected branch" in result.stderr
    assert git("branch", "--list", cwd=remote) == ""  # nothing half-published


@pytest.mark.usefixtures("rsync")
def test_an_unwritable_rsync_destination_is_a_clear_error(site: Site, run_cli: Runner,
                                                          tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    root = site(BASE + f'[deploy.server]\ntype = "rsync"\ndestination = "{blocker}/www"\n',
                POSTS)
    result = run_cli("-C", str(root), "deploy")
    assert result.exit_code == 1, result.stderr
    assert result.stderr.startswith("error:") and "destination" in result.stderr
    assert blocker.read_text() == "not a folder"
