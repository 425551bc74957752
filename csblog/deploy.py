"""`csblog deploy`: publish the built output to static hosting.

Two kinds of target, configured as `[deploy.<name>]` in csblog.toml:

- git: the output becomes one commit on a branch (default gh-pages) of any remote, made in a
  private scratch repository so the writer's working tree and index are never touched. The
  branch's history is kept; a deploy that changes nothing makes no commit. `.nojekyll` is added.
- rsync: the output is sent to a local folder or user@host:path, only changed files travel,
  and only files that an earlier csblog deploy put there are ever deleted.

Both report what was added, changed and removed; `dry_run` reports and changes nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from csblog.config import DeployTarget, SiteConfig
from csblog.errors import CsblogError, UsageError
from csblog.output_writing import CACHE_DIR, check_output_dir

GIT_IDENTITY = {"GIT_AUTHOR_NAME": "csblog", "GIT_AUTHOR_EMAIL": "csblog@localhost",
                "GIT_COMMITTER_NAME": "csblog", "GIT_COMMITTER_EMAIL": "csblog@localhost"}


@dataclass
class DeployReport:
    target: DeployTarget
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    dry_run: bool = False
    commit: str | None = None  # git: the new commit, None when nothing changed

    @property
    def nothing_to_do(self) -> bool:
        return not (self.added or self.changed or self.removed)


def choose_target(config: SiteConfig, name: str | None) -> DeployTarget:
    if not config.deploy:
        raise UsageError("there is no deploy target in csblog.toml",
                         hint='add one, e.g.\n    [deploy.pages]\n    type = "git"\n'
                              '    remote = "git@github.com:me/essays.git"')
    if name is None:
        return config.deploy[0]
    for target in config.deploy:
        if target.name == name:
            return target
    raise UsageError(f"there is no deploy target named {name!r}",
                     hint=f"targets in csblog.toml: {', '.join(t.name for t in config.deploy)}")


def deploy(config: SiteConfig, output: Path, target: DeployTarget,
           dry_run: bool = False) -> DeployReport:
    """Publish `output` (an already built site) to `target`."""
    if target.type == "git":
        return _deploy_git(config, output, target, dry_run)
    return _deploy_rsync(config, output, target, dry_run)


# --- git ------------------------------------------------------------------------------------

def _git(args: list[str], cwd: Path, env: dict[str, str] | None = None,
         check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise CsblogError(_git_failure(args, result.stderr))
    return result


def _git_failure(args: list[str], stderr: str) -> str:
    lines = stderr.strip().splitlines()
    # what the remote itself said (a hook's reason) first, then git's own last words
    said = [line for line in lines if line.startswith("remote:")]
    text = " ".join(dict.fromkeys(said[-3:] + lines[-2:]))
    lowered = stderr.lower()
    if "permission denied" in lowered or "authentication failed" in lowered \
            or "could not read username" in lowered:
        return f"the remote refused the credentials: {text}"
    if "protected branch" in lowered or "pre-receive hook declined" in lowered:
        return f"the remote refused the push (is the branch protected?): {text}"
    if "does not appear to be a git repository" in lowered or "not found" in lowered \
            or "could not read from remote" in lowered:
        return f"cannot reach the remote: {text}"
    return f"git {args[0]} failed: {text}"


def _source_commit(site_dir: Path) -> str:
    """'abc1234' (with '+changes' when the working tree is dirty), or '' outside git."""
    if not (site_dir / ".git").exists() or shutil.which("git") is None:
        return ""
    head = _git(["rev-parse", "--short", "HEAD"], site_dir, check=False)
    if head.returncode != 0:
        return ""
    dirty = _git(["status", "--porcelain"], site_dir, check=False).stdout.strip()
    return head.stdout.strip() + ("+changes" if dirty else "")


def _deploy_git(config: SiteConfig, output: Path, target: DeployTarget,
                dry_run: bool) -> DeployReport:
    if shutil.which("git") is None:
        raise CsblogError("git is not installed", hint="install git, or deploy with rsync")
    remote = target.remote
    if re.match(r"^[./~]", remote) or Path(remote).is_absolute():
        remote = str((config.site_dir / Path(remote).expanduser()).resolve())
    report = DeployReport(target, dry_run=dry_run)
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    with tempfile.TemporaryDirectory(prefix="csblog-deploy-") as tmp:
        scratch = Path(tmp)
        env["GIT_DIR"] = str(scratch / "repo.git")
        env["GIT_INDEX_FILE"] = str(scratch / "index")
        env["GIT_WORK_TREE"] = str(output)
        _git(["init", "-q", "--bare", str(scratch / "repo.git")], scratch)
        ref = f"refs/heads/{target.branch}"
        listing = _git(["ls-remote", "--heads", remote, target.branch], scratch, env)
        parent = None
        if listing.stdout.strip():
            _git(["fetch", "-q", remote, f"+{ref}:{ref}"], scratch, env)
            parent = _git(["rev-parse", ref], scratch, env).stdout.strip()
        _git(["add", "-A", "--force", "."], output, env)
        empty_blob = _git(["hash-object", "-w", "--stdin"], scratch, env).stdout.strip()
        _git(["update-index", "--add", "--cacheinfo", f"100644,{empty_blob},.nojekyll"],
             output, env)
        tree = _git(["write-tree"], output, env).stdout.strip()
        old_tree = _git(["rev-parse", f"{parent}^{{tree}}"], scratch, env).stdout.strip() \
            if parent else _git(["hash-object", "-t", "tree", "--stdin"], scratch,
                                env).stdout.strip()
        for line in _git(["diff-tree", "-r", "--name-status", "--no-renames", old_tree, tree],
                         scratch, env).stdout.splitlines():
            status, _, path = line.partition("\t")
            {"A": report.added, "M": report.changed, "D": report.removed}.get(
                status[:1], report.changed).append(path)
        if report.nothing_to_do or dry_run:
            return report
        source = _source_commit(config.site_dir)
        message = f"Publish {config.title}" + (f" from {source}" if source else "")
        commit_env = {**env, **{k: v for k, v in GIT_IDENTITY.items() if k not in os.environ}}
        if _git(["config", "user.name"], config.site_dir, check=False).stdout.strip():
            commit_env = env  # the writer's own identity
        args = ["commit-tree", tree, "-m", message] + (["-p", parent] if parent else [])
        report.commit = _git(args, scratch, commit_env).stdout.strip()
        _git(["push", "-q", remote, f"{report.commit}:{ref}"], scratch, env)
    return report


# --- rsync ----------------------------------------------------------------------------------

def _manifest(config: SiteConfig, target: DeployTarget) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", target.name)
    return config.site_dir / CACHE_DIR / f"deployed-{safe}.json"


def _escape_pattern(path: str) -> str:
    return re.sub(r"([*?\[\\])", r"\\\1", path)


def _deploy_rsync(config: SiteConfig, output: Path, target: DeployTarget,
                  dry_run: bool) -> DeployReport:
    rsync = shutil.which("rsync")
    if rsync is None:
        raise CsblogError("rsync is not installed",
                          hint="install it (apt-get install rsync, brew install rsync), "
                               "or deploy with a git target")
    destination = target.destination
    if ":" not in destination.split("/")[0]:  # a local folder, relative to the site
        local = (config.site_dir / Path(destination).expanduser()).resolve()
        check_output_dir(local, config.site_dir)  # never into the writer's own folders
        if local == output.resolve() or local.is_relative_to(output.resolve()):
            raise CsblogError(f"refusing to deploy into {local}: it is the build's output",
                              hint="choose a destination outside the output folder")
        try:
            local.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CsblogError(f"cannot create the destination folder {local}: {exc.strerror}",
                              hint="check the destination path and its permissions") from None
        destination = str(local)
    destination = destination.rstrip("/") + "/"
    manifest = _manifest(config, target)
    try:
        previous = set(json.loads(manifest.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        previous = set()
    current = {p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file()}
    with tempfile.NamedTemporaryFile("w", suffix=".rules", delete=False) as rules:
        # every folder may be entered; only our files (now or from an earlier deploy) are
        # touched; anything else at the destination is excluded, and so protected
        rules.write("+ */\n")
        for path in sorted(current | previous):
            rules.write(f"+ /{_escape_pattern(path)}\n")
        rules.write("- *\n")
    try:
        args = [rsync, "-rlt", "--delete", "--itemize-changes", f"--filter=merge {rules.name}"]
        if dry_run:
            args.append("--dry-run")
        result = subprocess.run([*args, f"{output}/", destination], capture_output=True,
                                text=True, stdin=subprocess.DEVNULL)
    finally:
        os.unlink(rules.name)
    if result.returncode != 0:
        text = " ".join(result.stderr.strip().splitlines()[-3:])
        raise CsblogError(f"rsync to {target.destination} failed: {text}",
                          hint="check that the destination exists and is writable")
    report = DeployReport(target, dry_run=dry_run)
    for line in result.stdout.splitlines():
        if line.startswith("*deleting "):
            path = line[len("*deleting "):].strip()
            if not path.endswith("/"):
                report.removed.append(path)
        elif len(line) > 12 and line[1] == "f" and line[0] in "<>ch":
            path = line[12:].strip()
            (report.added if line[2:11].startswith("+++") else report.changed).append(path)
    if not dry_run:
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps(sorted(current)), encoding="utf-8")
    return report
