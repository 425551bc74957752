"""Builds that find nothing (or little) changed do little, and still equal a clean build.

The build stamp lets a build with no changed input skip all work; these tests check the cases
where skipping would be wrong: an output file changed or deleted by hand, a future post falling
due, a change of flags, and an edit made in the same instant as the build's look at the files.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest
from helpers import make_site, post

from csblog.build import BuildOptions, build
from csblog.cache import MODEL_FILE, SHELF_FILE
from csblog.output_writing import CACHE_DIR

SITE_TOML = 'title = "Stamp test"\nbase_url = "https://example.org/"\n'


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def mtimes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns
            for p in sorted(folder.rglob("*")) if p.is_file()}


def clean_build(site: Path, target: Path) -> dict[str, bytes]:
    shutil.copytree(site, target, ignore=shutil.ignore_patterns(CACHE_DIR, "public"))
    build(target, BuildOptions())
    return tree(target / "public")


def settle(site: Path) -> None:
    """Move every input's time a little into the past, as if the writer saved a while ago."""
    past = time.time_ns() - 5_000_000_000
    for path in [site / "csblog.toml", *(site / "content").rglob("*")]:
        os.utime(path, ns=(past, past))


def titles(page: Path) -> list[str]:
    return [a.text_content() for a in lxml.html.parse(str(page)).xpath("//main//h2//a")]


def site_with(tmp_path: Path, count: int = 3, **extra: str) -> Path:
    files = {f"content/posts/2024-01-0{n}-essay-{n}.md": post(f"Essay {n}", f"Text {n}.")
             for n in range(1, count + 1)}
    files.update(extra)
    site = make_site(tmp_path / "site", SITE_TOML, files)
    settle(site)
    return site


def test_a_build_with_nothing_changed_reports_everything_unchanged_and_touches_nothing(
        tmp_path: Path) -> None:
    site = site_with(tmp_path)
    first = build(site, BuildOptions())
    before = mtimes(site / "public")
    again = build(site, BuildOptions())
    assert mtimes(site / "public") == before
    assert again.files.written == 0 and again.files.removed == 0
    assert again.files.unchanged == first.files.written
    assert (again.posts, again.tags, again.left_out) == (first.posts, first.tags, first.left_out)


def test_an_output_file_deleted_or_edited_by_hand_is_written_again(tmp_path: Path) -> None:
    site = site_with(tmp_path)
    build(site, BuildOptions())
    expected = tree(site / "public")
    (site / "public" / "index.html").unlink()
    (site / "public" / "feed.xml").write_text("edited by hand", encoding="utf-8")
    report = build(site, BuildOptions())
    assert report.files.written == 2
    assert tree(site / "public") == expected


def test_the_whole_output_folder_deleted_is_built_again(tmp_path: Path) -> None:
    site = site_with(tmp_path)
    build(site, BuildOptions())
    expected = tree(site / "public")
    shutil.rmtree(site / "public")
    build(site, BuildOptions())
    assert tree(site / "public") == expected


def test_other_flags_are_another_build(tmp_path: Path) -> None:
    site = site_with(tmp_path, **{"content/posts/2024-02-01-draft.md":
                                  post("A draft", "Not yet.", draft=True)})
    build(site, BuildOptions())
    assert not (site / "public" / "posts" / "draft").exists()
    settle(site)
    build(site, BuildOptions(drafts=True))
    assert (site / "public" / "posts" / "draft" / "index.html").is_file()
    build(site, BuildOptions())
    assert not (site / "public" / "posts" / "draft").exists()


def test_a_future_post_appears_once_its_time_has_come(tmp_path: Path) -> None:
    due = datetime.now(UTC) + timedelta(seconds=3)
    site = site_with(tmp_path, **{"content/posts/soon.md": post(
        "Soon", "Scheduled.", date=due.strftime("%Y-%m-%d %H:%M:%S+00:00"))})
    first = build(site, BuildOptions())
    assert first.left_out.future == 1
    assert build(site, BuildOptions()).left_out.future == 1  # nothing changed, not yet due
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.5)
    report = build(site, BuildOptions())
    assert report.left_out.future == 0
    assert "Soon" in titles(site / "public" / "index.html")


def test_an_edit_in_the_same_instant_as_the_build_is_not_missed(tmp_path: Path) -> None:
    """A file saved as the build looks at it may change again within one timestamp tick.

    Simulated exactly: the second edit keeps the size and the modification time of the first.
    """
    site = site_with(tmp_path)
    essay = site / "content" / "posts" / "2024-01-01-essay-1.md"
    essay.write_text(post("Title AAAA", "Text."), encoding="utf-8")
    stat = essay.stat()
    build(site, BuildOptions())
    essay.write_text(post("Title BBBB", "Text."), encoding="utf-8")
    os.utime(essay, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    build(site, BuildOptions())
    assert "Title BBBB" in titles(site / "public" / "index.html")
    assert tree(site / "public") == clean_build(site, tmp_path / "clean")


def test_a_theme_template_change_is_seen(tmp_path: Path) -> None:
    site = site_with(tmp_path)
    build(site, BuildOptions())
    template = site / "templates" / "404.html"
    template.parent.mkdir(parents=True)
    template.write_text('{% extends "base.html" %}{% block content %}<p>Lost.</p>'
                        '{% endblock %}\n', encoding="utf-8")
    build(site, BuildOptions())
    assert tree(site / "public") == clean_build(site, tmp_path / "clean")
    lost = lxml.html.parse(str(site / "public" / "404.html"))
    assert [p.text_content() for p in lost.xpath("//main//p")] == ["Lost."]


def test_a_changed_setting_remakes_the_posts_the_index_kept(tmp_path: Path) -> None:
    site = site_with(tmp_path)
    build(site, BuildOptions())
    build(site, BuildOptions(base_url="https://other.example/blog/"))
    links = lxml.html.parse(str(site / "public" / "index.html")).xpath("//main//h2//a/@href")
    assert links and all(link.startswith("/blog/posts/") for link in links)
    config = site / "csblog.toml"
    config.write_text(SITE_TOML + '[permalinks]\nposts = "/{year}/{slug}/"\n', encoding="utf-8")
    build(site, BuildOptions())
    assert tree(site / "public") == clean_build(site, tmp_path / "clean")
    assert (site / "public" / "2024" / "essay-1" / "index.html").is_file()


def test_an_edited_body_rewrites_only_its_page_and_the_feeds(
        tmp_path: Path) -> None:
    site = site_with(tmp_path, count=6)
    build(site, BuildOptions())
    before = mtimes(site / "public")
    essay = site / "content" / "posts" / "2024-01-03-essay-3.md"
    essay.write_text(essay.read_text(encoding="utf-8") + "\nA second paragraph.\n",
                     encoding="utf-8")
    build(site, BuildOptions())
    after = mtimes(site / "public")
    # the essay's page and the feeds, which carry whole essays
    assert {rel for rel in after if after[rel] != before.get(rel)} == {
        "posts/essay-3/index.html", "feed.xml", "atom.xml"}
    assert tree(site / "public") == clean_build(site, tmp_path / "clean")
    page = lxml.html.parse(str(site / "public" / "posts" / "essay-3" / "index.html"))
    assert "A second paragraph." in page.xpath("string(//main)")


def test_an_edited_body_no_other_page_shows_renders_only_its_own_page(tmp_path: Path) -> None:
    """The feeds carry the 20 newest essays whole, the archive, listings and sitemap only
    titles and summaries: a later paragraph of an old essay is on its own page alone."""
    files = {f"content/posts/2024-01-{n:02d}-essay-{n}.md": post(f"Essay {n}", f"Text {n}.")
             for n in range(1, 26)}
    site = make_site(tmp_path / "site", SITE_TOML, files)
    settle(site)
    build(site, BuildOptions())
    essay = site / "content" / "posts" / "2024-01-02-essay-2.md"
    essay.write_text(post("Essay 2", "Text 2.\n\nA later paragraph."), encoding="utf-8")
    report = build(site, BuildOptions())
    assert (report.rendered, report.files.written) == (1, 1)
    assert tree(site / "public") == clean_build(site, tmp_path / "clean")


def test_a_new_title_renders_the_pages_that_show_it_not_every_page(tmp_path: Path) -> None:
    """The site model is made again, but a page whose structural key is unchanged is kept."""
    files = {f"content/posts/2024-01-{n:02d}-essay-{n}.md":
             post(f"Essay {n}", f"Text {n}.", tags=[f"t{n % 5}"]) for n in range(1, 26)}
    site = make_site(tmp_path / "site", SITE_TOML, files)
    settle(site)
    everything = build(site, BuildOptions()).rendered
    essay = site / "content" / "posts" / "2024-01-02-essay-2.md"
    essay.write_text(post("Essay two", "Text 2.", tags=["t2"]), encoding="utf-8")
    report = build(site, BuildOptions())
    assert 0 < report.rendered < everything / 2, (report.rendered, everything)
    assert tree(site / "public") == clean_build(site, tmp_path / "clean")


def test_a_theme_that_shows_bodies_in_listings_gets_them_renewed(tmp_path: Path) -> None:
    """Which bodies a page shows is noted as it is rendered, whatever the templates do."""
    site = site_with(tmp_path, count=4)
    template = site / "templates" / "index.html"
    template.parent.mkdir(parents=True)
    template.write_text(
        '{% extends "base.html" %}{% block content %}{% for post in posts %}'
        '<article>{{ post.content }}<p>{{ post.word_count }} words</p></article>'
        '{% endfor %}{% endblock %}\n', encoding="utf-8")
    build(site, BuildOptions())
    essay = site / "content" / "posts" / "2024-01-02-essay-2.md"
    for number, body in enumerate(["Text 2.\n\nA later paragraph.", "Text 2.\n\nAnd more."]):
        essay.write_text(post("Essay 2", body), encoding="utf-8")
        build(site, BuildOptions())
        home = lxml.html.parse(str(site / "public" / "index.html"))
        assert body.split("\n\n")[1] in home.xpath("string(//main)")
        assert tree(site / "public") == clean_build(site, tmp_path / f"clean-{number}")


def test_an_edited_template_is_compiled_again_not_taken_from_the_template_cache(
        tmp_path: Path) -> None:
    site = site_with(tmp_path)
    template = site / "templates" / "404.html"
    template.parent.mkdir(parents=True)
    for text in ("Lost.", "Gone.", "Lost."):
        template.write_text('{% extends "base.html" %}{% block content %}<p>' + text +
                            '</p>{% endblock %}\n', encoding="utf-8")
        build(site, BuildOptions())
        lost = lxml.html.parse(str(site / "public" / "404.html"))
        assert [p.text_content() for p in lost.xpath("//main//p")] == [text]
    assert any((site / CACHE_DIR / "templates").iterdir())


def test_every_kind_of_edit_in_turn_equals_a_clean_build(tmp_path: Path) -> None:
    """Body-only edits reuse the saved site model; the others must rebuild it."""
    site = site_with(tmp_path, count=6)
    build(site, BuildOptions())
    essay = site / "content" / "posts" / "2024-01-03-essay-3.md"
    edits = [
        post("Essay 3", "Text 3.\n\nA later paragraph."),  # the body only: the model is reused
        post("Essay three, retitled", "Text 3.\n\nA later paragraph."),
        post("Essay three, retitled", "A new first paragraph.\n\nA later paragraph."),
        post("Essay three, retitled", "A new first paragraph.", tags=["patience"]),
        post("Essay three, retitled", "A new first paragraph.\n\n## A heading\n\nMore."),
        post("Essay three, retitled", "Link to [one](2024-01-01-essay-1.md)."),
        post("Essay three, retitled", "Link to [one](2024-01-01-essay-1.md).", draft=True),
    ]
    for number, text in enumerate(edits):
        essay.write_text(text, encoding="utf-8")
        build(site, BuildOptions())
        assert tree(site / "public") == clean_build(site, tmp_path / f"clean-{number}"), text


@pytest.mark.parametrize("damage", ["delete", "garble"])
def test_a_lost_shelf_of_posts_or_model_costs_time_not_correctness(tmp_path: Path,
                                                                  damage: str) -> None:
    """The index vouches for the Posts it shelved; if the shelf or the saved model is gone or
    damaged, a build that needs them makes them again as they were."""
    site = site_with(tmp_path, count=5)
    build(site, BuildOptions())
    essay = site / "content" / "posts" / "2024-01-03-essay-3.md"
    for number, name in enumerate([SHELF_FILE, MODEL_FILE, SHELF_FILE]):
        target = site / CACHE_DIR / name
        if damage == "delete":
            target.unlink()
        else:
            target.write_bytes(b"not a pickle" * 10)
        essay.write_text(post(f"Essay 3, take {number}", "Text 3."), encoding="utf-8")
        build(site, BuildOptions())
        assert tree(site / "public") == clean_build(site, tmp_path / f"clean-{number}")


def test_bodies_lost_from_the_render_cache_are_rendered_again(tmp_path: Path) -> None:
    """The source index still vouches for every essay, but the cache that holds their bodies
    is gone: the pages and feeds that show them render them again from the files."""
    from csblog.cache import CACHE_FILE

    site = site_with(tmp_path, count=5)
    build(site, BuildOptions())
    for suffix in ("", "-wal", "-shm"):
        (site / CACHE_DIR / f"{CACHE_FILE}{suffix}").unlink(missing_ok=True)
    essay = site / "content" / "posts" / "2024-01-05-essay-5.md"  # the newest: in every feed
    essay.write_text(post("Essay 5, retitled", "Text 5."), encoding="utf-8")
    report = build(site, BuildOptions())
    assert report.parsed == 1  # the others were neither read nor parsed to find their keys
    assert tree(site / "public") == clean_build(site, tmp_path / "clean")


def test_the_parse_pool_works_beside_other_threads(tmp_path: Path) -> None:
    """A dev server runs threads; its parse workers are started afresh, not forked."""
    import threading

    from csblog.cache import settings_fingerprint
    from csblog.config import load_config
    from csblog.discovery import discover
    from csblog.parallel import parse_files

    site = site_with(tmp_path, count=4)
    config, _ = load_config(site)
    sources = discover(site).posts
    alone = list(parse_files(sources, config.markdown, settings_fingerprint(config.markdown), 1))
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        pooled = list(parse_files(sources, config.markdown,
                                  settings_fingerprint(config.markdown), 2))
    finally:
        stop.set()
        other.join()
    assert pooled == alone
