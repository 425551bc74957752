"""The content model from text: front matter, dates, slugs, summaries, links. No disk."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import lxml.html
import pytest

from csblog.bodies import BodyStore, use_store
from csblog.config import MarkdownConfig
from csblog.discovery import decode_source, is_ignored
from csblog.errors import ContentError, Problem
from csblog.markdown_rendering import MarkdownRenderer, ReplyRenderer, resolve_links
from csblog.posts import (
    ContentSettings,
    Post,
    make_comment,
    make_post,
    reading_time,
    split_front_matter,
    split_jekyll_name,
    to_datetime,
)
from csblog.site_model import BuildFlags, build_site
from csblog.urls import normalize_site_path, output_file, slugify

UTC_ZONE = ZoneInfo("UTC")
CHICAGO = ZoneInfo("America/Chicago")
RENDERER = MarkdownRenderer(MarkdownConfig())


def settings(**changes: Any) -> ContentSettings:
    base = ContentSettings(
        tz=UTC_ZONE, post_permalink="/posts/{slug}/", unicode_slugs=False, comments=True,
        toc_min_headings=3, default_author="", base_path="/", origin="https://example.org",
        now=datetime(2030, 1, 1, tzinfo=UTC))
    return dataclasses.replace(base, **changes)


def make(text: str, rel: str = "content/posts/essay.md", **changes: Any
         ) -> tuple[Post, list[Problem], list[Problem]]:
    problems: list[Problem] = []
    warnings: list[Problem] = []
    doc = split_front_matter(text, rel)
    rendered = RENDERER.render(doc.body, rel)
    # the body is fetched when shown: serve it from here, links unresolved
    use_store(BodyStore({rel: rel}, {rel: rendered.html}.__getitem__, lambda html, _: html,
                        {rel: rendered.word_count}))
    return make_post(doc, rendered, settings(**changes), problems, warnings), problems, warnings


def good(text: str, rel: str = "content/posts/essay.md", **changes: Any) -> Post:
    result, problems, _ = make(text, rel, **changes)
    assert problems == []
    return result


def html(fragment: str) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(fragment, create_parent="div")


# --- front matter ----------------------------------------------------------------------------

def test_front_matter_is_split_from_the_body() -> None:
    doc = split_front_matter("---\ntitle: A\ntags: [x]\n---\nBody line\n", "content/posts/a.md")
    assert doc.meta == {"title": "A", "tags": ["x"]}
    assert doc.body == "Body line\n"
    assert doc.body_line == 5


def test_no_front_matter_is_all_body() -> None:
    doc = split_front_matter("Just text.\n", "content/posts/a.md")
    assert doc.meta == {} and doc.body == "Just text.\n"


@pytest.mark.parametrize(("text", "line", "words"), [
    ("---\ntitle: ok\ntags: a: b\n---\n", 3, "not valid YAML"),
    ("---\ntitle: ok\n\ntitle2: [unclosed\n---\n", 4, "not valid YAML"),
    ("---\ntitle: ok\nsummary: 'unclosed\n---\n", 3, "not valid YAML"),
    ("---\ntitle: never closed\n", 1, "no closing"),
    ("---\n- a list\n---\n", 2, "key: value"),
])
def test_broken_front_matter_names_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ContentError) as caught:
        split_front_matter(text, "content/posts/bad.md")
    (problem,) = caught.value.problems
    assert problem.path == "content/posts/bad.md"
    assert problem.line == line
    assert words in problem.message
    assert str(problem).startswith(f"content/posts/bad.md:{line}")


def test_empty_file_is_an_error() -> None:
    with pytest.raises(ContentError, match="empty"):
        split_front_matter("  \n", "content/posts/empty.md")


def test_unknown_front_matter_keys_are_kept_in_extra() -> None:
    p = good("---\ntitle: A\ndate: 2024-01-01\nmood: hopeful\nrating: 4\n---\nText.\n")
    assert p.extra == {"mood": "hopeful", "rating": 4}


def test_wrong_types_are_problems_naming_key_and_line() -> None:
    text = "---\ntitle: A\ndate: 2024-01-01\ndraft: maybe\ntags: {a: 1}\nreply_to: nobody\n---\n"
    _, problems, _ = make(text)
    by_key = {p.message.split("'")[1]: p for p in problems}
    assert set(by_key) == {"draft", "tags", "reply_to"}
    assert (by_key["draft"].line, by_key["tags"].line, by_key["reply_to"].line) == (4, 5, 6)


def test_missing_title_comes_from_the_file_name_with_a_warning() -> None:
    p, problems, warnings = make("---\ndate: 2024-01-01\n---\nText.\n",
                                 "content/posts/2024-01-01-the-quiet-desk.md")
    assert problems == []
    assert p.title == "The quiet desk"
    assert len(warnings) == 1 and "title" in warnings[0].message


def test_source_bytes_are_decoded() -> None:
    assert decode_source(b"\xef\xbb\xbf---\r\ntitle: A\r\n---\r\nx\r", "a.md") == \
        "---\ntitle: A\n---\nx\n"
    with pytest.raises(ContentError) as caught:
        decode_source("---\ntitle: Café\n".encode("latin-1"), "content/posts/a.md")
    assert caught.value.problems[0].line == 2
    with pytest.raises(ContentError, match="binary"):
        decode_source(b"\x89PNG\x00\x00", "content/posts/a.md")


@pytest.mark.parametrize(("name", "ignored"), [
    ("essay.md", False), (".hidden.md", True), ("_notes.md", True), ("essay.md~", True),
    ("#essay.md#", True), (".#essay.md", True), ("essay.md.swp", True), ("essay.tmp", True),
])
def test_ignored_names(name: str, ignored: bool) -> None:
    assert is_ignored(name) is ignored


# --- dates -----------------------------------------------------------------------------------

def test_jekyll_file_name_gives_date_and_slug() -> None:
    p = good("---\ntitle: Anything\n---\nText.\n", "content/posts/2024-03-05-the-rude-counter.md")
    assert p.slug == "the-rude-counter"
    assert p.date == datetime(2024, 3, 5, tzinfo=UTC_ZONE)
    assert p.id == "2024-03-05-the-rude-counter"
    assert p.path == "/posts/the-rude-counter/"
    assert p.url == "/posts/the-rude-counter/"
    assert p.abs_url == "https://example.org/posts/the-rude-counter/"


def test_front_matter_date_and_slug_override_the_file_name() -> None:
    p = good("---\ntitle: A\ndate: 2023-12-24 18:30\nslug: Christmas Eve\n---\nText.\n",
             "content/posts/2024-03-05-the-rude-counter.md")
    assert p.slug == "christmas-eve"
    assert p.date == datetime(2023, 12, 24, 18, 30, tzinfo=UTC_ZONE)
    assert p.id == "2023-12-24-christmas-eve"


def test_a_post_without_any_date_is_a_problem() -> None:
    _, problems, _ = make("---\ntitle: A\n---\nText.\n", "content/posts/undated.md")
    assert len(problems) == 1 and "no date" in problems[0].message


def test_bad_date_is_a_problem_naming_the_key() -> None:
    _, problems, _ = make("---\ntitle: A\ndate: next tuesday\n---\nText.\n")
    assert len(problems) == 1
    assert problems[0].message.startswith("'date'") and problems[0].line == 3


def test_invalid_calendar_date_in_file_name_is_not_a_date() -> None:
    assert split_jekyll_name("2024-02-30-x") == (None, "2024-02-30-x")
    assert split_jekyll_name("2024-02-29-leap") == (date(2024, 2, 29), "leap")


@pytest.mark.parametrize("value", [date(2024, 3, 5), "2024-03-05", " 2024-03-05 "])
def test_bare_date_is_midnight_of_that_day_in_the_site_zone(value: object) -> None:
    when = to_datetime(value, CHICAGO)
    assert when is not None
    assert (when.date(), when.hour, when.minute) == (date(2024, 3, 5), 0, 0)
    offset = when.utcoffset()
    assert offset is not None and offset.total_seconds() == -6 * 3600


def test_date_with_offset_is_converted_to_the_site_zone() -> None:
    when = to_datetime("2024-03-06T03:00:00Z", CHICAGO)
    assert when is not None and when.isoformat() == "2024-03-05T21:00:00-06:00"
    naive = to_datetime(datetime(2024, 3, 5, 23, 30), CHICAGO)
    assert naive is not None and naive.isoformat() == "2024-03-05T23:30:00-06:00"
    assert to_datetime("not a date", CHICAGO) is None
    assert to_datetime(12, CHICAGO) is None


def test_yaml_bare_date_in_chicago_stays_on_the_fifth() -> None:
    p = good("---\ntitle: A\ndate: 2024-03-05\n---\nText.\n", tz=CHICAGO)
    assert p.date.date() == date(2024, 3, 5)
    assert p.id.startswith("2024-03-05-")


def test_future_and_draft_flags() -> None:
    now = datetime(2024, 3, 5, 12, tzinfo=UTC)
    later = good("---\ntitle: A\ndate: 2024-03-05 13:00\n---\nT\n", now=now)
    earlier = good("---\ntitle: A\ndate: 2024-03-05 11:00\ndraft: true\n---\nT\n", now=now)
    assert (later.future, later.draft) == (True, False)
    assert (earlier.future, earlier.draft) == (False, True)


# --- slugs -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "ascii_slug", "unicode_slug"), [
    ("Café — naïve", "cafe-naive", "café-naïve"),
    ("Straße Ærø", "strasse-aero", "straße-ærø"),
    ("  Hello,   World!  ", "hello-world", "hello-world"),
    ("snake_case and CAPS", "snake-case-and-caps", "snake-case-and-caps"),
    ("?!", "", ""),
])
def test_slugify(text: str, ascii_slug: str, unicode_slug: str) -> None:
    assert slugify(text) == ascii_slug
    assert slugify(text, keep_unicode=True) == unicode_slug


def test_slug_from_front_matter_is_slugified() -> None:
    assert good("---\ntitle: A\ndate: 2024-01-01\nslug: Café — naïve\n---\nT\n").slug == \
        "cafe-naive"
    assert good("---\ntitle: A\ndate: 2024-01-01\nslug: Café — naïve\n---\nT\n",
                unicode_slugs=True).slug == "café-naïve"


def test_slug_is_never_empty() -> None:
    p = good("---\ntitle: '?!'\n---\nT\n", "content/posts/2024-01-01-!!!.md")
    assert p.slug and p.path != "/posts//"
    _, problems, _ = make("---\ntitle: A\ndate: 2024-01-01\nslug: '***'\n---\nT\n")
    assert len(problems) == 1 and problems[0].message.startswith("'slug'")


def test_unsafe_aliases_are_refused() -> None:
    assert normalize_site_path("/2019//old.html") == "/2019/old.html"
    assert normalize_site_path("old/") == "/old/"
    for unsafe in ("/../etc/passwd", "javascript:alert(1)", "C:\\x", "/a\nb"):
        assert normalize_site_path(unsafe) is None, unsafe
    _, problems, _ = make("---\ntitle: A\ndate: 2024-01-01\naliases: ['/../x']\n---\nT\n")
    assert len(problems) == 1 and problems[0].message.startswith("'aliases'")


def test_output_file_of_site_paths() -> None:
    assert output_file("/") == "index.html"
    assert output_file("/posts/x/") == "posts/x/index.html"
    assert output_file("/2019/old.html") == "2019/old.html"
    assert output_file("/old") == "old/index.html"


# --- tags and authors ------------------------------------------------------------------------

def test_tags_as_a_comma_separated_string() -> None:
    p = good("---\ntitle: A\ndate: 2024-01-01\ntags: retail,  customer   care , ,retail\n---\nT\n")
    assert p.tag_names == ("retail", "customer care")


def test_tags_as_a_list() -> None:
    p = good("---\ntitle: A\ndate: 2024-01-01\ntags: [Retail, complaints]\n---\nT\n")
    assert p.tag_names == ("Retail", "complaints")


def test_authors_list_author_string_and_site_default() -> None:
    many = good("---\ntitle: A\ndate: 2024-01-01\nauthors: [priya, tomas]\n---\nT\n")
    one = good("---\ntitle: A\ndate: 2024-01-01\nauthor: maria\n---\nT\n")
    default = good("---\ntitle: A\ndate: 2024-01-01\n---\nT\n", default_author="ana")
    assert many.author_keys == ("priya", "tomas")
    assert one.author_keys == ("maria",)
    assert default.author_keys == ("ana",)


def _site(*texts: str) -> Any:
    problems: list[Problem] = []
    warnings: list[Problem] = []
    posts = [good(text, f"content/posts/2024-01-0{i}-p{i}.md") for i, text in
             enumerate(texts, 1)]
    result = build_site(posts, [], [], [], [], settings(), BuildFlags(), 10, 3, problems,
                         warnings)
    assert problems == []
    return result


def test_tags_differing_only_in_case_are_one_tag() -> None:
    result = _site("---\ntitle: A\ntags: [Retail]\n---\nT\n",
                   "---\ntitle: B\ntags: [retail]\n---\nT\n",
                   "---\ntitle: C\ntags: [retail, Other]\n---\nT\n")
    assert [(t.slug, t.name, t.count) for t in result.tags] == [
        ("other", "Other", 1), ("retail", "retail", 3)]
    assert {p.title for p in result.posts_by_tag["retail"]} == {"A", "B", "C"}


def test_extra_reaches_the_site_model() -> None:
    result = _site("---\ntitle: A\nmood: hopeful\n---\nT\n")
    assert result.posts[0].extra == {"mood": "hopeful"}


def test_two_posts_with_one_slug_collide() -> None:
    problems: list[Problem] = []
    posts = [good("---\ntitle: A\nslug: same\n---\nT\n", "content/posts/2024-01-01-a.md"),
             good("---\ntitle: B\nslug: same\n---\nT\n", "content/posts/2024-01-02-b.md")]
    build_site(posts, [], [], [], [], settings(), BuildFlags(), 10, 3, problems, [])
    assert len(problems) == 1
    assert "content/posts/2024-01-01-a.md" in str(problems[0])
    assert "content/posts/2024-01-02-b.md" in str(problems[0])


# --- summaries, word counts ------------------------------------------------------------------

def test_summary_from_front_matter_is_escaped_text() -> None:
    p = good("---\ntitle: A\ndate: 2024-01-01\nsummary: Fish & <chips>\n---\nFirst.\n\nSecond.\n")
    assert html(p.summary).text_content() == "Fish & <chips>"
    assert html(p.summary).xpath(".//chips") == []


def test_summary_is_the_text_before_more() -> None:
    p = good("---\ntitle: A\ndate: 2024-01-01\n---\nOne.\n\nTwo.\n\n<!-- more -->\n\nThree.\n")
    assert [e.text_content() for e in html(p.summary).xpath("./p")] == ["One.", "Two."]
    body = html(str(p.content))
    assert [e.text_content() for e in body.xpath("./p")] == ["One.", "Two.", "Three."]


def test_summary_is_otherwise_the_first_paragraph() -> None:
    p = good("---\ntitle: A\ndate: 2024-01-01\n---\n## Heading\n\nFirst para.[^1]\n\nSecond.\n\n"
             "[^1]: Note.\n")
    summary = html(p.summary)
    assert [e.text_content() for e in summary.xpath("./p")] == ["First para."]
    assert summary.xpath(".//@id") == []  # no duplicate ids in listings
    assert p.description == "First para."


def test_description_is_cut_at_a_word() -> None:
    words = " ".join(["service"] * 60)
    p = good(f"---\ntitle: A\ndate: 2024-01-01\n---\n{words}\n")
    assert len(p.description) <= 160
    assert p.description.endswith("…")
    assert set(p.description[:-1].split()) == {"service"}


@pytest.mark.parametrize(("words", "minutes"), [(1, 1), (220, 1), (221, 2), (660, 3)])
def test_word_count_and_reading_time(words: int, minutes: int) -> None:
    body = " ".join(f"word{i}" for i in range(words))
    p = good(f"---\ntitle: A\ndate: 2024-01-01\n---\n{body}\n")
    assert p.word_count == words
    assert p.reading_time == minutes == reading_time(words)


def test_word_count_ignores_markup() -> None:
    p = good("---\ntitle: A\ndate: 2024-01-01\n---\n## Two words\n\n*It's* a [link](x.md).\n")
    assert p.word_count == 5


def test_a_post_pickles_to_an_equal_post_with_the_same_types() -> None:
    """The saved model and the shelf of posts are pickles of Posts (with a reduced form)."""
    import pickle

    p = good("---\ntitle: A & B\ndate: 2024-01-01\ntags: [x]\n---\n## One\n\nText *here*.\n"
             "\n## Two\n\n### Three\n\nMore.\n", toc_min_headings=2)
    data = pickle.dumps(p, protocol=pickle.HIGHEST_PROTOCOL)
    assert b"Markup" not in data  # saved as text: no call of Markup's constructor to load it
    back = pickle.loads(data)
    assert back == p and repr(back) == repr(p)
    assert [(name, type(getattr(back, name))) for name in vars(p)] == \
        [(name, type(getattr(p, name))) for name in vars(p)]
    assert str(back.content) == str(p.content) and back.word_count == p.word_count


# --- links -----------------------------------------------------------------------------------

def _rendered_links(markdown_text: str, rel: str = "content/posts/2024-01-01-a.md",
                    targets: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    missing: list[str] = []
    out = resolve_links(RENDERER.render(markdown_text, rel).html, (targets or {}).get,
                        lambda path: "/blog" + path, missing.append)
    return [str(v) for v in html(out).xpath(".//@href | .//@src")], missing


def test_links_to_sources_become_their_urls() -> None:
    links, missing = _rendered_links(
        "[a](2023-06-10-waiter.md) [b](../pages/about.md#team) ![c](images/x.svg)",
        targets={"content/posts/2023-06-10-waiter.md": "/blog/posts/waiter/",
                 "content/pages/about.md": "/blog/about/",
                 "content/posts/images/x.svg": "/blog/posts/images/x.svg"})
    assert links == ["/blog/posts/waiter/", "/blog/about/#team", "/blog/posts/images/x.svg"]
    assert missing == []


def test_site_paths_get_the_base_path_and_other_links_are_left_alone() -> None:
    links, _ = _rendered_links(
        "[t](/tags/) [e](https://example.com/x) [f](#part) [m](mailto:a@example.org)")
    assert links == ["/blog/tags/", "https://example.com/x", "#part", "mailto:a@example.org"]


def test_missing_link_target_is_reported_and_kept() -> None:
    links, missing = _rendered_links("[gone](nowhere.md#x)")
    assert links == ["nowhere.md#x"]
    assert missing == ["nowhere.md#x"]


# --- replies ---------------------------------------------------------------------------------

def test_reply_markdown_is_made_safe() -> None:
    text = ("Hi <script>alert(1)</script> there.\n\n<img src=x onerror=alert(1)>\n\n"
            "[bad](javascript:alert(1)) [ok](https://example.com/) ![pic](https://x.org/p.png)\n")
    root = html(ReplyRenderer().render(text))
    assert root.xpath(".//script | .//img | .//*[@onerror]") == []
    assert "<script>alert(1)</script>" in root.text_content()
    assert [a.get("href") for a in root.xpath(".//a")] == ["https://example.com/"]
    assert set(root.xpath(".//a")[0].get("rel").split()) == {"nofollow", "ugc"}
    assert "pic" in root.text_content()


def test_reply_belongs_to_the_folder_slug() -> None:
    doc = split_front_matter("---\nname: Ana\ndate: 2024-03-07\n---\nHi\n",
                             "content/comments/the-rude-counter/ana.md")
    problems: list[Problem] = []
    comment = make_comment(doc, "<p>Hi</p>", 1, settings(), problems)
    assert problems == []
    assert (comment.post_slug, comment.name) == ("the-rude-counter", "Ana")
    assert comment.date.date() == date(2024, 3, 7)
