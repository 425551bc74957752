"""csblog.toml: the typed settings, and every problem reported at once with its key."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import Result, page, post

from csblog.config import FeedConfig, SiteConfig, parse_config
from csblog.errors import ConfigError

SiteFactory = Callable[..., Path]
Builder = Callable[..., Result]
POST = {"content/posts/2024-01-01-p.md": post("P")}


def test_defaults(tmp_path: Path) -> None:
    config, warnings = parse_config("", tmp_path)
    assert warnings == []
    assert config == SiteConfig(site_dir=tmp_path)
    assert config.feed == FeedConfig(full_content=True, limit=20)
    assert (config.base_path, config.origin) == ("/", "http://localhost:8000")


def test_values_are_read_and_typed(tmp_path: Path) -> None:
    text = """
title = "T"
base_url = "https://example.org/blog"
timezone = "America/Chicago"
posts_per_page = 7
comments = false
[permalinks]
posts = "/{year}/{slug}/"
[feed]
full_content = false
limit = 0
[markdown]
extensions = ["extra"]
[extra]
anything = [1, 2]
"""
    config, warnings = parse_config(text, tmp_path)
    assert warnings == []
    assert config.base_url == "https://example.org/blog/"
    assert (config.base_path, config.origin) == ("/blog/", "https://example.org")
    assert config.tz.key == "America/Chicago"
    assert (config.posts_per_page, config.comments) == (7, False)
    assert config.post_permalink == "/{year}/{slug}/"
    assert config.feed == FeedConfig(full_content=False, limit=0)
    assert config.markdown.extensions == ("extra",)
    assert config.extra == {"anything": [1, 2]}


@pytest.mark.parametrize(("text", "key", "suggestion"), [
    ('titel = "x"', "titel", "title"),
    ("posts_per_pgae = 3", "posts_per_pgae", "posts_per_page"),
    ("[feed]\nlimt = 3", "feed.limt", "limit"),
])
def test_unknown_key_warns_with_the_nearest_key(tmp_path: Path, text: str, key: str,
                                                suggestion: str) -> None:
    config, warnings = parse_config(text, tmp_path)
    assert config == SiteConfig(site_dir=tmp_path)
    (warning,) = warnings
    assert f"'{key}'" in warning.message
    assert warning.hint == f"did you mean '{suggestion}'?"


def test_wrong_types_are_all_reported_at_once(tmp_path: Path) -> None:
    text = """
posts_per_page = "ten"
comments = "yes"
timezone = "Mars/Olympus"
base_url = "example.org"
title = 3
[feed]
limit = -1
[permalinks]
posts = "/posts/{title}/"
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, tmp_path)
    keys = {re.match(r"'([^']+)'", p.message).group(1) for p in caught.value.problems}  # type: ignore[union-attr]
    assert keys == {"posts_per_page", "comments", "timezone", "base_url", "title", "feed.limit",
                    "permalinks.posts"}


def test_a_table_key_given_a_value_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'feed'"):
        parse_config('feed = "yes"', tmp_path)


def test_bool_is_not_a_number(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="posts_per_page"):
        parse_config("posts_per_page = true", tmp_path)


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config('title = "ok"\n\nbase_url = "https://example.org/\n', tmp_path)
    (problem,) = caught.value.problems
    assert problem.path == "csblog.toml" and problem.line == 3


# --- through the command line ----------------------------------------------------------------

def test_unknown_key_still_builds_with_a_warning(site: SiteFactory, build_site: Builder) -> None:
    root = site('titel = "Typo"\nbase_url = "https://example.org/"\n', POST)
    result = build_site(root)
    assert result.exit_code == 0
    assert "titel" in result.stderr and "did you mean 'title'?" in result.stderr
    assert page(root / "public", "/posts/p/").xpath("//main//h1")


def test_wrong_types_exit_1_naming_every_key(site: SiteFactory, build_site: Builder) -> None:
    root = site('posts_per_page = "ten"\ncomments = "yes"\n[feed]\nlimit = "all"\n', POST)
    result = build_site(root)
    assert result.exit_code == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(error_lines) == 3
    for key in ("'posts_per_page'", "'comments'", "'feed.limit'"):
        assert sum(key in line for line in error_lines) == 1, key
    assert not (root / "public").exists()


def test_invalid_toml_reports_the_line(site: SiteFactory, build_site: Builder) -> None:
    root = site('title = "ok"\ndescription = "fine"\nbase_url = https://example.org/\n', POST)
    result = build_site(root)
    assert result.exit_code == 1
    assert re.search(r"csblog\.toml:3\b", result.stderr), result.stderr


def test_unknown_theme_lists_the_available_ones(site: SiteFactory, build_site: Builder) -> None:
    root = site('theme = "nope"\n', {**POST, "themes/mine/templates/base.html": "x"})
    result = build_site(root)
    assert result.exit_code == 1
    assert "'nope'" in result.stderr
    listed = re.search(r"available themes: (.*)", result.stderr)
    assert listed is not None
    assert {name.strip() for name in listed.group(1).split("(")[0].split(",")} == {
        "default", "mine"}


def test_missing_config_file(tmp_path: Path, build_site: Builder) -> None:
    result = build_site(tmp_path)
    assert result.exit_code == 1
    assert "csblog.toml" in result.stderr and "init" in result.stderr


def test_bad_base_url_override(site: SiteFactory, build_site: Builder) -> None:
    root = site('base_url = "https://example.org/"\n', POST)
    result = build_site(root, "--base-url", "not a url")
    assert result.exit_code == 1
    assert "--base-url" in result.stderr


def test_base_url_override(site: SiteFactory, build_site: Builder) -> None:
    root = site('base_url = "https://example.org/"\n', POST)
    assert build_site(root, "--base-url", "https://other.example/sub").exit_code == 0
    doc = page(root / "public", "/sub/posts/p/", "/sub/")
    assert doc.xpath("//link[@rel='canonical']/@href") == ["https://other.example/sub/posts/p/"]


def test_bad_markdown_extension(site: SiteFactory, build_site: Builder) -> None:
    root = site('[markdown]\nextensions = ["no_such_extension_here"]\n', POST)
    result = build_site(root)
    assert result.exit_code == 1
    assert "markdown.extensions" in result.stderr
