"""The command line: init, new, build, --version; messages and exit codes, never a traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from helpers import REPO, Result, page, post, post_links

import csblog

SiteFactory = Callable[..., Path]
Runner = Callable[..., Result]
BASIC = 'title = "T"\nbase_url = "https://example.org/"\n'


# --- version and usage -----------------------------------------------------------------------

def test_version(run_cli: Runner) -> None:
    result = run_cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"csblog {csblog.__version__}"


def test_python_m_csblog_version() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, "-m", "csblog", "--version"], capture_output=True,
                          text=True, env=env, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"csblog {csblog.__version__}"


def test_python_m_csblog_build_error_has_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "csblog", "-C", str(tmp_path), "build"],
                          capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr


@pytest.mark.parametrize("argv", [
    ("frobnicate",),
    (),
    ("build", "--no-such-option"),
    ("new",),
])
def test_usage_errors_exit_2(run_cli: Runner, argv: tuple[str, ...]) -> None:
    result = run_cli(*argv)
    assert result.exit_code == 2


def test_help_exits_0(run_cli: Runner) -> None:
    result = run_cli("--help")
    assert result.exit_code == 0
    for command in ("init", "new", "build"):
        assert command in result.stdout


# --- build: messages and exit codes ----------------------------------------------------------

def test_successful_build_exits_0_with_a_summary(site: SiteFactory, run_cli: Runner) -> None:
    root = site(BASIC, {"content/posts/2024-01-01-a.md": post("A"),
                        "content/posts/2024-01-02-b.md": post("B", draft=True)})
    result = run_cli("-C", str(root), "build")
    assert result.exit_code == 0
    assert re.search(r"Built 1 essays?\b", result.stdout)
    assert "1 draft" in result.stdout
    assert result.stderr == ""
    quiet = run_cli("-C", str(root), "build", "--quiet")
    assert (quiet.exit_code, quiet.stdout) == (0, "")
    verbose = run_cli("-C", str(root), "build", "--verbose")
    assert "content/posts/2024-01-02-b.md" in verbose.stdout


def test_yaml_error_reports_file_and_line(site: SiteFactory, run_cli: Runner) -> None:
    root = site(BASIC, {"content/posts/2024-01-01-bad.md":
                        "---\ntitle: Fine\ntags: [one, two\nauthor: x\n---\nText.\n"})
    result = run_cli("-C", str(root), "build")
    assert result.exit_code == 1
    match = re.search(r"content/posts/2024-01-01-bad\.md:(\d+)", result.stderr)
    assert match is not None, result.stderr
    assert match.group(1) == "4"  # where YAML noticed the list was not closed
    assert "YAML" in result.stderr


def test_yaml_error_line_is_exact(site: SiteFactory, run_cli: Runner) -> None:
    root = site(BASIC, {"content/posts/2024-01-01-bad.md":
                        "---\ntitle: Fine\ndate: 2024-01-01\ndescription: a: b\n---\nText.\n"})
    result = run_cli("-C", str(root), "build")
    assert result.exit_code == 1
    assert re.search(r"content/posts/2024-01-01-bad\.md:4\b", result.stderr), result.stderr


def test_every_broken_file_is_reported_in_one_run(site: SiteFactory, run_cli: Runner) -> None:
    root = site(BASIC, {
        "content/posts/2024-01-01-good.md": post("Good"),
        "content/posts/2024-01-02-yaml.md": "---\ntitle: a: b\n---\nText.\n",
        "content/posts/2024-01-03-fence.md": "---\ntitle: No end\nText.\n",
        "content/posts/undated.md": post("No date"),
        "content/posts/2024-01-04-types.md": post("Types", draft="perhaps"),
        "content/pages/binary.md": "\x00\x01\x02",
        "content/authors/x.md": "---\nemail: not-an-address\n---\n",
    })
    (root / "content/posts/2024-01-05-latin1.md").write_bytes("---\ntitle: Caf\xe9\n---\n"
                                                              .encode("latin-1"))
    result = run_cli("-C", str(root), "build")
    assert result.exit_code == 1
    for name in ("2024-01-02-yaml.md", "2024-01-03-fence.md", "undated.md",
                 "2024-01-04-types.md", "binary.md", "authors/x.md", "2024-01-05-latin1.md"):
        assert name in result.stderr, name
    assert "2024-01-01-good.md" not in result.stderr
    assert not (root / "public").exists()


def test_unwritable_output_is_an_error_not_a_bug(site: SiteFactory, run_cli: Runner) -> None:
    # the writer's own file in a folder standing where the feed goes: the writer can fix that,
    # so it is not "a bug" (and their file is not deleted)
    root = site(BASIC, {"content/posts/2024-01-01-a.md": post("A")})
    (root / "public" / "feed.xml").mkdir(parents=True)
    (root / "public" / "feed.xml" / "mine.txt").write_text("keep me")
    result = run_cli("-C", str(root), "build")
    assert result.exit_code == 1
    assert result.stderr.startswith("error") and "feed.xml" in result.stderr
    assert "bug" not in result.stderr
    assert (root / "public" / "feed.xml" / "mine.txt").read_text() == "keep me"


# --- init ------------------------------------------------------------------------------------

def test_init_creates_a_site_that_builds(tmp_path: Path, run_cli: Runner) -> None:
    target = tmp_path / "my-notes"
    result = run_cli("init", str(target))
    assert result.exit_code == 0, result.stderr
    assert (target / "csblog.toml").is_file()
    output = target / "public"
    home = page(output, "/")
    links = post_links(home)
    assert len(links) == 1
    essay = page(output, links[0])
    assert essay.xpath("//main//h1")
    assert page(output, "/about/").xpath("//main//h1")
    assert (output / "feed.xml").is_file() and (output / "sitemap.xml").is_file()


def test_init_refuses_an_existing_site(tmp_path: Path, run_cli: Runner) -> None:
    (tmp_path / "csblog.toml").write_text("title = 'mine'\n")
    result = run_cli("init", str(tmp_path))
    assert result.exit_code == 2
    assert (tmp_path / "csblog.toml").read_text() == "title = 'mine'\n"
    assert not (tmp_path / "content").exists()


# --- new -------------------------------------------------------------------------------------

def _today(zone: str) -> set[date]:
    # the day may turn while the test runs: accept either side of midnight
    return {datetime.now(ZoneInfo(zone)).date()}


def test_new_creates_a_draft_post(site: SiteFactory, run_cli: Runner) -> None:
    root = site(BASIC + 'timezone = "Pacific/Kiritimati"\n')
    before = _today("Pacific/Kiritimati")
    result = run_cli("-C", str(root), "new", "Title: with «quotes» & more", "--tags", "a, b")
    days = before | _today("Pacific/Kiritimati")
    assert result.exit_code == 0, result.stderr
    created = list((root / "content" / "posts").glob("*.md"))
    assert len(created) == 1
    assert created[0].name in {f"{d:%Y-%m-%d}-title-with-quotes-more.md" for d in days}
    meta = yaml.safe_load(created[0].read_text(encoding="utf-8").split("---\n")[1])
    assert meta["title"] == "Title: with «quotes» & more"
    assert meta["tags"] == ["a", "b"]
    assert meta["draft"] is True
    assert date.fromisoformat(str(meta["date"])) in days
    # it builds, as a draft
    assert run_cli("-C", str(root), "build").exit_code == 0
    assert post_links(page(root / "public", "/")) == []
    assert run_cli("-C", str(root), "build", "--drafts").exit_code == 0
    assert post_links(page(root / "public", "/")) == ["/posts/title-with-quotes-more/"]


def test_new_refuses_to_overwrite(site: SiteFactory, run_cli: Runner) -> None:
    root = site(BASIC)
    assert run_cli("-C", str(root), "new", "Title", "--tags", "a,b").exit_code == 0
    (created,) = (root / "content" / "posts").glob("*.md")
    assert created.name.endswith("-title.md")
    created.write_text("my own words\n", encoding="utf-8")
    result = run_cli("-C", str(root), "new", "Title")
    assert result.exit_code != 0
    assert created.name in result.stderr
    assert created.read_text(encoding="utf-8") == "my own words\n"
    assert len(list((root / "content" / "posts").glob("*.md"))) == 1


def test_new_refuses_a_title_without_letters(site: SiteFactory, run_cli: Runner) -> None:
    root = site(BASIC)
    result = run_cli("-C", str(root), "new", "?!")
    assert result.exit_code == 2
    assert not (root / "content" / "posts").exists() or not list(
        (root / "content" / "posts").iterdir())


def test_new_outside_a_site(tmp_path: Path, run_cli: Runner) -> None:
    result = run_cli("-C", str(tmp_path), "new", "Title")
    assert result.exit_code == 1
    assert "csblog.toml" in result.stderr


def test_the_summary_says_what_was_parsed_reused_and_rendered(site: SiteFactory,
                                                              run_cli: Runner) -> None:
    root = site(BASIC, {f"content/posts/2024-01-0{n}-e{n}.md": post(f"E{n}") for n in (1, 2, 3)})

    def work(result: Result) -> tuple[int, int, int]:
        found = re.search(r"\((\d+) sources parsed, (\d+) from cache, (\d+) pages rendered\)",
                          result.stdout)
        assert found, result.stdout
        return int(found[1]), int(found[2]), int(found[3])

    first = work(run_cli("-C", str(root), "build"))
    assert first[:2] == (3, 0) and first[2] > 3
    essay = root / "content" / "posts" / "2024-01-02-e2.md"
    essay.write_text(essay.read_text(encoding="utf-8") + "\nMore words here.\n", encoding="utf-8")
    parsed, reused, rendered = work(run_cli("-C", str(root), "build"))
    assert (parsed, reused) == (1, 2)
    assert 0 < rendered < first[2]


def test_a_long_build_on_a_terminal_shows_progress_and_clears_it() -> None:
    from io import StringIO

    from csblog.cli import _Progress

    stream = StringIO()
    progress = _Progress(stream)
    progress(1, 10, "reading essays")
    assert stream.getvalue() == ""  # nothing in the first second
    progress.started -= 2
    progress(5, 10, "reading essays")
    progress(10, 10, "reading essays")
    shown = stream.getvalue()
    assert "reading essays: [" in shown and "5/10" in shown and "10/10" in shown
    progress.clear()
    assert stream.getvalue().endswith("\r\x1b[K")
