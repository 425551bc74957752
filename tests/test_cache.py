"""The parse/render cache and the worker pool change how fast a build is, never what it writes.

Every test compares whole output folders byte for byte against a clean build (no cache, one
process) of the same sources. No timings are asserted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import copy_sample_site, make_site, post

import csblog
from csblog.bodies import current_store
from csblog.build import BuildOptions, build, content_settings, load_site, parse_sources
from csblog.cache import (
    CACHE_FILE,
    BuildStamp,
    PagePlan,
    forget_stamp,
    input_fingerprint,
    is_current,
    load_page_plan,
    load_stamp,
    open_cache,
    save_page_plan,
    save_stamp,
    settings_fingerprint,
)
from csblog.config import load_config
from csblog.discovery import discover
from csblog.output_writing import CACHE_DIR
from csblog.page_rendering import PageRenderer
from csblog.parallel import WORKERS_ENV, default_workers


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes, by relative path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def clean_build(site: Path, target: Path) -> dict[str, bytes]:
    """The output of a build of a copy of `site` with no cache and no output folder."""
    shutil.copytree(site, target, ignore=shutil.ignore_patterns(CACHE_DIR, "public"))
    build(target, BuildOptions())
    return tree(target / "public")


def essays(count: int) -> dict[str, str]:
    body = ("## A heading\n\nIt's the \"small\" things -- a smile... and a [link](other.md).\n\n"
            "```python\nprint('hello')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    files = {f"content/posts/2024-01-{n:02d}-essay-{n}.md":
             post(f"Essay {n}", body + f"\nEssay number {n}.", tags=["service", f"t{n % 3}"])
             for n in range(1, count + 1)}
    files["content/posts/other.md"] = post("Other", "Linked to.", date="2023-05-01")
    return files


SITE_TOML = 'title = "Cache test"\nbase_url = "https://example.org/"\n'


def counts(site: Path) -> tuple[int, int]:
    """(cache hits, sources rendered) when the site's sources are parsed now."""
    config, _ = load_config(site)
    parsed = parse_sources(discover(site), config, content_settings(config), [], [])
    return parsed.cache_hits, parsed.rendered


def test_a_build_after_edits_equals_a_clean_build(tmp_path: Path) -> None:
    site = copy_sample_site(tmp_path / "site")
    build(site, BuildOptions())
    assert (site / CACHE_DIR / CACHE_FILE).is_file()
    essay = sorted((site / "content" / "posts").glob("*.md"))[2]
    essay.write_text(essay.read_text(encoding="utf-8") + "\nA sentence added later.\n",
                     encoding="utf-8")
    (site / "content" / "posts" / "2030-01-01-new.md").write_text(
        post("A new essay", "Fresh *words*.", date="2024-01-01"), encoding="utf-8")
    build(site, BuildOptions())
    assert tree(site / "public") == clean_build(site, tmp_path / "clean")
    assert b"A sentence added later." in b"".join(tree(site / "public").values())


def test_a_warm_build_uses_the_cache_and_renders_only_what_changed(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", SITE_TOML, essays(4))
    assert counts(site) == (0, 5)
    assert counts(site) == (5, 0)
    first = sorted((site / "content" / "posts").glob("*.md"))[0]
    first.write_text(first.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
    assert counts(site) == (4, 1)


def test_changing_a_markdown_setting_invalidates_the_cache(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", SITE_TOML, essays(3))
    build(site, BuildOptions())
    before = tree(site / "public")
    old_config, _ = load_config(site)
    (site / "csblog.toml").write_text(
        SITE_TOML + '[markdown]\nextensions = ["extra", "toc", "codehilite", "sane_lists"]\n',
        encoding="utf-8")
    new_config, _ = load_config(site)
    assert settings_fingerprint(new_config.markdown) != settings_fingerprint(old_config.markdown)
    build(site, BuildOptions())
    after = tree(site / "public")
    assert after != before  # without smarty, "It's" keeps its straight quote
    assert after == clean_build(site, tmp_path / "clean")


def test_an_extension_option_is_part_of_the_fingerprint(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", SITE_TOML, essays(1))
    config, _ = load_config(site)
    build(site, BuildOptions())
    (site / "csblog.toml").write_text(
        SITE_TOML + "[markdown.extension_configs.toc]\npermalink = true\n", encoding="utf-8")
    changed, _ = load_config(site)
    assert settings_fingerprint(changed.markdown) != settings_fingerprint(config.markdown)
    assert counts(site)[0] == 0


def test_another_csblog_version_invalidates_the_cache(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    site = make_site(tmp_path / "site", SITE_TOML, essays(3))
    assert counts(site) == (0, 4)
    assert counts(site) == (4, 0)
    monkeypatch.setattr(csblog, "__version__", "99.0.0")
    assert counts(site) == (0, 4)


def test_output_is_the_same_with_one_worker_or_two(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = []
    for workers in (1, 2):
        monkeypatch.setenv(WORKERS_ENV, str(workers))
        assert default_workers(3) == workers
        site = copy_sample_site(tmp_path / f"site-{workers}")
        for name, text in essays(6).items():
            (site / name).parent.mkdir(parents=True, exist_ok=True)
            (site / name).write_text(text, encoding="utf-8")
        build(site, BuildOptions())
        outputs.append(tree(site / "public"))
        # and again after an edit: workers write only the pages whose bytes changed
        essay = site / "content/posts/2024-01-02-essay-2.md"
        essay.write_text(essay.read_text(encoding="utf-8").replace("Essay 2", "Essay Two"),
                         encoding="utf-8")
        build(site, BuildOptions())
        outputs.append(tree(site / "public"))
    assert outputs[0] == outputs[2]
    assert outputs[1] == outputs[3] != outputs[0]


def test_parsed_content_is_the_same_with_one_worker_or_two(tmp_path: Path) -> None:
    site = copy_sample_site(tmp_path / "site")
    config, _ = load_config(site)
    settings = content_settings(config)
    sources = discover(site)
    one = parse_sources(sources, config, settings, [], [], workers=1, use_cache=False)
    two = parse_sources(sources, config, settings, [], [], workers=2, use_cache=False)
    assert (one.posts, one.pages, one.authors, one.comments) == \
        (two.posts, two.pages, two.authors, two.comments)


def test_a_damaged_cache_is_rebuilt_not_fatal(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", SITE_TOML, essays(2))
    (site / CACHE_DIR).mkdir()
    (site / CACHE_DIR / CACHE_FILE).write_bytes(b"this is not a database" * 100)
    build(site, BuildOptions())
    assert tree(site / "public") == clean_build(site, tmp_path / "clean")
    assert counts(site) == (3, 0)


def test_a_problem_in_one_source_is_reported_with_the_pool(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    files = essays(3)
    files["content/posts/2024-02-01-broken.md"] = "---\ntitle: [unclosed\n---\nText.\n"
    site = make_site(tmp_path / "site", SITE_TOML, files)
    config, _ = load_config(site)
    for workers in (1, 2):
        problems: list = []
        parse_sources(discover(site), config, content_settings(config), problems, [],
                      workers=workers, use_cache=False)
        assert [p.path for p in problems] == ["content/posts/2024-02-01-broken.md"]


def test_default_workers_grow_with_the_site(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    assert default_workers(20) == 1
    assert default_workers(10_000) >= 1


def test_the_cache_reads_only_the_entries_asked_for(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", SITE_TOML, essays(3))
    build(site, BuildOptions())
    config, _ = load_config(site)
    cache = open_cache(site / CACHE_DIR, config.markdown)
    assert cache is not None
    with cache:
        assert cache.get_many([cache.key("content/posts/nothing.md", "text")]) == {}
        assert cache.hits == 0


def test_the_cache_serves_a_later_process(tmp_path: Path) -> None:
    """The key must not depend on anything of one process (such as a function's address)."""
    site = make_site(tmp_path / "site", SITE_TOML, essays(2))
    env = dict(os.environ, PYTHONPATH=str(Path(csblog.__file__).resolve().parent.parent))
    subprocess.run([sys.executable, "-m", "csblog", "-C", str(site), "build", "--quiet"],
                   check=True, env=env)
    assert counts(site) == (3, 0)


def test_the_input_fingerprint_changes_with_any_input(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", SITE_TOML, essays(2))
    first = input_fingerprint(site, ["drafts=False"])
    assert input_fingerprint(site, ["drafts=False"]) == first
    assert input_fingerprint(site, ["drafts=True"]) != first
    build(site, BuildOptions())  # the output and the cache are not inputs
    assert input_fingerprint(site, ["drafts=False"]) == first
    essay = sorted((site / "content" / "posts").glob("*.md"))[0]
    essay.write_text(essay.read_text(encoding="utf-8") + "x", encoding="utf-8")
    second = input_fingerprint(site, ["drafts=False"])
    assert second != first
    (site / "templates").mkdir()
    (site / "templates" / "post.html").write_text("{{ post.title }}", encoding="utf-8")
    assert input_fingerprint(site, ["drafts=False"]) != second


def test_a_build_stamp_is_current_until_an_input_changes_or_a_post_falls_due(
        tmp_path: Path) -> None:
    cache_dir, output = tmp_path / CACHE_DIR, tmp_path / "public"
    assert not is_current(load_stamp(cache_dir, output), "abc", now=100.0)
    save_stamp(cache_dir, output, BuildStamp("abc", valid_until=200.0, report={"posts": 2}))
    stamp = load_stamp(cache_dir, output)
    assert is_current(stamp, "abc", now=100.0)
    assert stamp is not None and stamp.report == {"posts": 2}
    assert not is_current(stamp, "abd", now=100.0)
    assert not is_current(stamp, "abc", now=200.0)
    forget_stamp(cache_dir, output)
    assert load_stamp(cache_dir, output) is None


def test_pages_are_the_same_rendered_in_one_process_or_forked_workers(tmp_path: Path) -> None:
    site = copy_sample_site(tmp_path / "site")
    loaded = load_site(site)
    renderer = PageRenderer(loaded.site, loaded.config, loaded.theme)
    one = [(p.path, p.data) for p in renderer.pages(workers=1)]
    two = [(p.path, p.data) for p in renderer.pages(workers=2)]
    assert one == two


def _jobs_and_pages(site: Path) -> tuple[dict[str, object], dict[str, bytes]]:
    """Each page's key (its structural key and the keys of the bodies it showed) and bytes."""
    loaded = load_site(site)
    renderer = PageRenderer(loaded.site, loaded.config, loaded.theme)
    store = current_store()
    keys: dict[str, object] = {}
    pages: dict[str, bytes] = {}
    for job in renderer.page_jobs():
        page = renderer.render_job(job)
        keys[job.path] = (renderer.job_key(job), [(rel, store.key(rel)) for rel in page.reads])
        pages[job.path] = page.data
    return keys, pages


def test_a_page_key_changes_whenever_the_page_changes(tmp_path: Path) -> None:
    site = copy_sample_site(tmp_path / "site")
    for name, text in essays(12).items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text, encoding="utf-8")
    keys, pages = _jobs_and_pages(site)
    loaded = load_site(site)
    renderer = PageRenderer(loaded.site, loaded.config, loaded.theme)
    assert [p.path for p in renderer.pages(workers=1)] == list(keys)
    assert _jobs_and_pages(site)[0] == keys  # the same sources give the same keys
    essay = site / "content/posts/2024-01-05-essay-5.md"
    edits = [
        lambda: essay.write_text(essay.read_text(encoding="utf-8") + "\nMore words.\n",
                                 encoding="utf-8"),
        lambda: essay.write_text(essay.read_text(encoding="utf-8").replace(
            "title: Essay 5", "title: Essay Five"), encoding="utf-8"),
        lambda: (site / "csblog.toml").write_text(
            (site / "csblog.toml").read_text(encoding="utf-8").replace(
                'title = "', 'title = "New '), encoding="utf-8"),
    ]
    for edit in edits:
        edit()
        new_keys, new_pages = _jobs_and_pages(site)
        changed = {path for path in new_pages if pages.get(path) != new_pages[path]}
        assert changed
        for path in changed:
            assert keys.get(path) != new_keys[path], path
        kept = [path for path in new_keys if keys.get(path) == new_keys[path]]
        assert all(pages[path] == new_pages[path] for path in kept)
        keys, pages = new_keys, new_pages


def test_the_page_plan_is_saved_and_loaded_per_output_folder(tmp_path: Path) -> None:
    cache_dir = tmp_path / CACHE_DIR
    assert load_page_plan(cache_dir, tmp_path / "public") == PagePlan()
    essay = "content/posts/a.md"
    plan = PagePlan("k", {essay: "b1"},
                    {"index.html": ("s1", ()), "posts/a/index.html": ("s2", (essay,))})
    save_page_plan(cache_dir, tmp_path / "public", plan)
    assert load_page_plan(cache_dir, tmp_path / "public") == plan
    assert load_page_plan(cache_dir, tmp_path / "other") == PagePlan()
    assert plan.changed_bodies({essay: "b1"}) == set()
    assert plan.changed_bodies({essay: "b2"}) == {essay}
    assert plan.changed_bodies({}) == {essay}
    assert plan.showing(set()) == set()
    assert plan.showing({essay}) == {"posts/a/index.html"}  # index.html shows no body
    assert plan.showing({"content/posts/b.md"}) == set()
