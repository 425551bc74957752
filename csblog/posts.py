"""The content model: front matter and Markdown results -> `Post`, `Page`, `Author`, `Comment`.

Pure: no file reads and no templates. Every problem is collected as a `Problem` naming the file
and line, so a build can report all broken files at once.
"""

from __future__ import annotations

import hashlib
import html as html_module
import math
import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from markupsafe import Markup

from csblog.bodies import LazyHtml, body_links, current_store
from csblog.errors import ContentError, Problem
from csblog.urls import author_path, normalize_site_path, page_path, post_path, slugify

try:  # the C loader is several times faster where PyYAML was built with libyaml
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _BaseLoader


class _YamlLoader(_BaseLoader):
    """Safe YAML, with dates left as text: csblog reads them itself, so that an impossible date
    (2024-02-30) is a clear error on its line and "2024-03-05 08:30" means what it says."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}

WORDS_PER_MINUTE = 220
_FENCE = re.compile(r"^---[ \t]*$")
_CLOSING_FENCE = re.compile(r"^(---|\.\.\.)[ \t]*$")
_JEKYLL_NAME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(.+)$")
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


# --- the data -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tag:
    name: str
    slug: str
    url: str
    abs_url: str
    feed_url: str
    count: int = 0


@dataclass(frozen=True)
class Author:
    id: str
    name: str
    url: str
    abs_url: str
    email: str = ""
    website: str | None = None
    avatar: str | None = None
    bio: str = ""
    post_count: int = 0
    source: str | None = None  # None for a plain name with no profile file


@dataclass(frozen=True)
class Comment:
    """A published reply to a post."""

    id: str
    post_slug: str
    name: str
    date: datetime
    content: str
    website: str | None = None
    source: str = ""


@dataclass(frozen=True)
class Post:
    source: str
    id: str
    title: str
    slug: str
    path: str  # site path, e.g. "/posts/slug/"
    url: str
    abs_url: str
    date: datetime
    updated: datetime | None
    tag_names: tuple[str, ...]
    author_keys: tuple[str, ...]
    summary: str
    description: str
    content: LazyHtml | str  # the body, fetched when shown (see csblog.bodies)
    toc: str
    show_toc: bool
    reading_time: int
    image: str | None
    draft: bool
    future: bool
    comments_enabled: bool
    reply_to: str
    aliases: tuple[str, ...]
    extra: Mapping[str, Any]
    # filled in by the site model
    tags: tuple[Tag, ...] = ()
    authors: tuple[Author, ...] = ()
    comment_count: int = 0
    author_line: int | None = None  # where the front matter names the authors, for messages
    links: tuple[str, ...] = ()  # the body's links to resolve, as attributes (for warnings)

    @property
    def word_count(self) -> int:
        """Words in the body: like the body, kept in the body store, not in the model."""
        return current_store().word_count(self.source)

    def __reduce__(self) -> tuple[Any, tuple[tuple[Any, ...], tuple[int, ...]]]:
        # The saved model of 10,000 essays is unpickled at every build after an edit: a flat
        # tuple of the fields, with the Markup ones saved as plain text and made Markup again
        # without Markup's Python constructor, unpickles a fifth faster than the default (a
        # dict per Post, and a call of Markup.__new__ for each Markup).
        state = self.__dict__
        values = [state[name] for name in _POST_FIELDS]
        marked = []
        for i, value in enumerate(values):  # (one pass: a cold build pickles every Post twice)
            if type(value) is Markup:
                values[i] = str.__str__(value)
                marked.append(i)
        return _unpickle_post, (tuple(values), tuple(marked))


def _unpickle_post(values: tuple[Any, ...], marked: tuple[int, ...]) -> Post:
    post = object.__new__(Post)
    state = post.__dict__
    state.update(zip(_POST_FIELDS, values, strict=True))
    for i in marked:
        state[_POST_FIELDS[i]] = str.__new__(Markup, values[i])
    return post


_POST_FIELDS = tuple(f.name for f in fields(Post))


@dataclass(frozen=True)
class Page:
    source: str
    title: str
    slug: str
    path: str
    url: str
    abs_url: str
    content: str
    toc: str
    show_toc: bool
    description: str
    updated: datetime | None
    image: str | None
    weight: int
    menu: bool
    aliases: tuple[str, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Document:
    """A source split into front matter and Markdown body."""

    rel: str
    meta: Mapping[str, Any]
    body: str
    body_line: int  # line number of the first body line in the file
    meta_lines: tuple[str, ...] = ()  # the front matter's lines, for pointing at a key


# --- front matter ---------------------------------------------------------------------------

def split_front_matter(text: str, rel: str) -> Document:
    """Split '---' fenced YAML front matter from the body. Raises ContentError with the line."""
    if not text.strip():
        raise ContentError("the file is empty", rel,
                           hint="add front matter with a title, and some text, or delete the file")
    lines = text.split("\n")
    if not _FENCE.match(lines[0]):
        return Document(rel, {}, text, 1)
    for index in range(1, len(lines)):
        if _CLOSING_FENCE.match(lines[index]):
            break
    else:
        raise ContentError("the front matter that starts on line 1 has no closing '---'", rel, 1,
                           hint="add a line with just '---' after the last front matter key")
    yaml_text = "\n".join(lines[1:index])
    try:
        meta = yaml.load(yaml_text, Loader=_YamlLoader) if yaml_text.strip() else {}
    except (ValueError, TypeError, RecursionError) as exc:
        raise ContentError(f"the front matter cannot be read: {exc}", rel, 2,
                           hint="simplify the front matter: plain 'key: value' lines") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if mark is not None and (mark.line >= index - 1 or mark.index >= len(yaml_text)):
            # noticed only at the end of the front matter (an unclosed bracket, say): point
            # at where the unfinished value starts, not at the closing '---'
            mark = getattr(exc, "context_mark", None) or mark
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 2 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        raise ContentError(f"the front matter is not valid YAML: {problem}", rel, line,
                           hint="check the quotes and the indentation; a value containing ': ' "
                                "needs quotes", column=column) from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise ContentError(
            f"the front matter must be 'key: value' lines, got {type(meta).__name__}", rel, 2,
            hint="write e.g. 'title: My essay' between the '---' lines")
    meta = {str(k): v for k, v in meta.items()}
    return Document(rel, meta, "\n".join(lines[index + 1 :]), index + 2, tuple(lines[1:index]))


# --- field checks ---------------------------------------------------------------------------

_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict = 3, 8, 8
_SHORT.maxstring = _SHORT.maxother = 120


def _show(value: Any) -> str:
    """A value for a message, cut short: YAML aliases can nest a few lines into billions of
    items, which a plain repr() would spell out in full."""
    return _SHORT.repr(value)


@dataclass
class FieldReader:
    """Reads typed fields from front matter, collecting problems instead of stopping."""

    doc: Document
    problems: list[Problem]

    def fail(self, key: str, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(f"'{key}': {message}", self.doc.rel, self.line(key),
                                     hint=hint))

    def line(self, key: str) -> int | None:
        """The line of the file where the front matter sets `key`."""
        pattern = re.compile(rf"^{re.escape(key)}\s*:")
        for offset, line in enumerate(self.doc.meta_lines):
            if pattern.match(line):
                return offset + 2
        return None

    def text(self, key: str, default: str = "") -> str:
        value = self.doc.meta.get(key)
        if value is None:
            return default
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value).strip()
        self.fail(key, f"expected text, got {type(value).__name__} ({_show(value)})")
        return default

    def boolean(self, key: str, default: bool) -> bool:
        value = self.doc.meta.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        self.fail(key, f"expected true or false, got {_show(value)}")
        return default

    def integer(self, key: str, default: int) -> int:
        value = self.doc.meta.get(key)
        if value is None:
            return default
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        self.fail(key, f"expected a whole number, got {_show(value)}")
        return default

    def string_list(self, key: str) -> tuple[str, ...]:
        """A YAML list of strings, or one comma-separated string."""
        value = self.doc.meta.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            items = value.split(",")
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            items = value
        else:
            self.fail(key, "expected a list of words or a comma-separated text, got "
                           f"{_show(value)}",
                      hint=f'write e.g. {key}: ["service", "retail"] (quote numbers: "2024")')
            return ()
        seen: dict[str, None] = {}
        for item in items:
            item = " ".join(item.split())
            if item:
                seen.setdefault(item, None)
        return tuple(seen)

    def when(self, key: str, tz: ZoneInfo) -> datetime | None:
        value = self.doc.meta.get(key)
        if value is None:
            return None
        parsed = to_datetime(value, tz)
        if parsed is None:
            text = value if isinstance(value, str) else ""
            if re.match(r"^\d{1,4}[/.]\d{1,2}[/.]\d{1,4}$", text.strip()):
                self.fail(key, f"{text!r} is ambiguous: is it day/month or month/day?",
                          hint="write dates as year-month-day: 2024-03-05")
            elif _DATE_TEXT.match(text.strip()):
                self.fail(key, f"{text!r} is not a real date or time")
            else:
                self.fail(key, f"expected a date such as 2024-03-05 or 2024-03-05 14:30, "
                               f"got {_show(value)}")
        return parsed

    def url(self, key: str) -> str | None:
        """An http(s) URL or a site-relative path; anything else is refused."""
        value = self.text(key)
        if not value:
            return None
        if re.match(r"^https?://[^\s<>\"]+$", value) or re.match(r"^/[^\s<>\"]*$", value):
            return value
        if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:", value) and not value.startswith("//") \
                and re.match(r"^[^\s<>\"]+$", value):
            return value  # relative to the source file; resolved with the content links
        self.fail(key, f"expected an http(s) URL or a path on this site, got {value!r}")
        return None


_DATE_TEXT = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$")


def to_datetime(value: Any, tz: ZoneInfo) -> datetime | None:
    """A date or date-time (text or YAML value) as an aware datetime in the site time zone.

    Accepts 2024-03-05, 2024-03-05 08:30, 2024-03-05T08:30:00+01:00 and the like. A bare date is
    midnight of that calendar day in the site time zone: never shifted by a day. None when the
    value is not such a date (or is an impossible one, such as 2024-02-30).
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)
    if isinstance(value, date):
        return datetime.combine(value, time(0, 0), tzinfo=tz)
    if not isinstance(value, str):
        return None
    match = _DATE_TEXT.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, offset = match.groups()
    try:
        when = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                        int(second or 0))
    except ValueError:
        return None
    if offset is None:
        return when.replace(tzinfo=tz)
    if offset == "Z":
        return when.replace(tzinfo=UTC).astimezone(tz)
    sign = 1 if offset[0] == "+" else -1
    digits = offset[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return when.replace(tzinfo=timezone(sign * delta)).astimezone(tz)


def is_email(value: str) -> bool:
    return bool(_EMAIL.match(value))


def title_from_name(stem: str) -> str:
    words = stem.replace("-", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else "Untitled"


def split_jekyll_name(stem: str) -> tuple[date | None, str]:
    """'2024-03-05-the-rude-counter' -> (date(2024, 3, 5), 'the-rude-counter')."""
    match = _JEKYLL_NAME.match(stem)
    if match:
        try:
            year, month, day = (int(match.group(i)) for i in (1, 2, 3))
            return date(year, month, day), match.group(4)
        except ValueError:
            return None, stem
    return None, stem


def reading_time(words: int) -> int:
    return max(1, math.ceil(words / WORDS_PER_MINUTE))


def plain_text(html: str, limit: int = 0) -> str:
    """Text of an HTML fragment with entities decoded, optionally cut at a word boundary."""
    text = html_module.unescape(re.sub(r"<[^>]+>", "", html))
    text = " ".join(text.split())
    if limit and len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:.") + "…"
    return text


KNOWN_POST_KEYS = frozenset({
    "title", "date", "updated", "tags", "author", "authors", "summary", "description", "slug",
    "draft", "comments", "reply_to", "image", "aliases",
})
KNOWN_PAGE_KEYS = frozenset({
    "title", "slug", "description", "updated", "image", "weight", "menu", "aliases", "draft",
})


# --- building the objects -------------------------------------------------------------------

@dataclass(frozen=True)
class ContentSettings:
    """What parsing needs to know about the site (plain values, taken from SiteConfig)."""

    tz: ZoneInfo
    post_permalink: str
    unicode_slugs: bool
    comments: bool
    toc_min_headings: int
    default_author: str
    base_path: str
    origin: str
    now: datetime

    def without_time(self) -> str:
        """Every setting but `now`, as text: what cached posts and models depend on."""
        return repr({f.name: getattr(self, f.name) for f in fields(self) if f.name != "now"})

    def url(self, site_path: str) -> str:
        return self.base_path + site_path.lstrip("/")

    def abs_url(self, site_path: str) -> str:
        return self.origin + self.url(site_path)


def _warn_unknown_title(doc: Document, warnings: list[Problem], fallback: str) -> None:
    warnings.append(Problem(f"no 'title' in the front matter; using \"{fallback}\"", doc.rel, 1,
                            hint="add a line 'title: ...' to the front matter"))


def _slug(reader: FieldReader, settings: ContentSettings, fallback: str) -> str:
    given = reader.text("slug")
    if given:
        slug = slugify(given, settings.unicode_slugs)
        if not slug:
            reader.fail("slug", f"{given!r} has no letters or digits to make a URL from")
        return slug or slugify(fallback, settings.unicode_slugs) or "post"
    return slugify(fallback, settings.unicode_slugs) or "post"


def _aliases(reader: FieldReader) -> tuple[str, ...]:
    result = []
    for alias in reader.string_list("aliases"):
        normal = normalize_site_path(alias)
        if normal is None:
            reader.fail("aliases", f"{alias!r} is not a safe path on this site",
                        hint="write old URLs as paths such as /2019/05/old-title.html")
        else:
            result.append(normal)
    return tuple(result)


def _extra(doc: Document, known: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in doc.meta.items() if k not in known}


def make_post(doc: Document, rendered: Any, settings: ContentSettings,
              problems: list[Problem], warnings: list[Problem]) -> Post:
    """A Post from its Document and its RenderedMarkdown. Problems are appended, not raised."""
    reader = FieldReader(doc, problems)
    stem = doc.rel.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    name_date, name_slug = split_jekyll_name(stem)
    title = reader.text("title")
    if not title:
        title = title_from_name(name_slug)
        _warn_unknown_title(doc, warnings, title)
    slug = _slug(reader, settings, name_slug)
    when = reader.when("date", settings.tz)
    if when is None and "date" not in doc.meta:
        if name_date is None:
            problems.append(Problem(
                "the post has no date", doc.rel, 1,
                hint="add 'date: 2024-03-05' to the front matter or name the file "
                     "2024-03-05-title.md"))
        else:
            when = datetime.combine(name_date, time(0, 0), tzinfo=settings.tz)
    when = when or datetime(1970, 1, 1, tzinfo=settings.tz)
    updated = reader.when("updated", settings.tz)
    path = post_path(settings.post_permalink, slug, when)
    authors = reader.string_list("authors") or reader.string_list("author")
    if not authors and settings.default_author:
        authors = (settings.default_author,)
    summary_text = reader.text("summary")
    summary = Markup(f"<p>{_escape(summary_text)}</p>" if summary_text else rendered.summary)
    description = reader.text("description") or plain_text(summary, 160)
    reply_to = reader.text("reply_to")
    if reply_to and not is_email(reply_to):
        reader.fail("reply_to", f"expected an email address, got {reply_to!r}")
        reply_to = ""
    return Post(
        source=doc.rel,
        id=f"{when:%Y-%m-%d}-{slug}",
        title=title,
        slug=slug,
        path=path,
        url=settings.url(path),
        abs_url=settings.abs_url(path),
        date=when,
        updated=updated,
        tag_names=reader.string_list("tags"),
        author_keys=authors,
        summary=summary,
        description=description,
        content=LazyHtml(doc.rel, empty=not rendered.html.strip()),
        toc=Markup(rendered.toc),
        show_toc=bool(rendered.toc) and rendered.heading_count >= settings.toc_min_headings > 0,
        reading_time=reading_time(rendered.word_count),
        image=reader.url("image"),
        draft=reader.boolean("draft", False),
        future=when > settings.now,
        comments_enabled=reader.boolean("comments", settings.comments),
        reply_to=reply_to,
        aliases=_aliases(reader),
        extra=_extra(doc, KNOWN_POST_KEYS),
        author_line=reader.line("authors") or reader.line("author"),
        links=body_links(rendered.html),
    )


def post_digest(post: Post) -> str:
    """A hash of everything a Post holds (not its body, which is fetched by its source)."""
    return hashlib.sha1(repr(post).encode("utf-8", "surrogatepass")).hexdigest()


def page_slug_parts(rel: str, slug: str) -> list[str]:
    """'content/pages/team/joe.md' with slug 'joe' -> ['team', 'joe']."""
    parts = rel.split("/")[2:-1]
    folders = [slugify(p) or "page" for p in parts]
    return folders if slug == "index" else [*folders, slug]


def make_page(doc: Document, rendered: Any, settings: ContentSettings,
              problems: list[Problem], warnings: list[Problem]) -> Page:
    reader = FieldReader(doc, problems)
    stem = doc.rel.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    title = reader.text("title")
    if not title:
        title = title_from_name(stem)
        _warn_unknown_title(doc, warnings, title)
    slug = "index" if stem == "index" and not reader.text("slug") else _slug(reader, settings, stem)
    path = page_path(page_slug_parts(doc.rel, slug))
    if path == "//":
        path = "/"
    return Page(
        source=doc.rel,
        title=title,
        slug=slug,
        path=path,
        url=settings.url(path),
        abs_url=settings.abs_url(path),
        content=Markup(rendered.html),
        toc=Markup(rendered.toc),
        show_toc=bool(rendered.toc) and rendered.heading_count >= settings.toc_min_headings > 0,
        description=reader.text("description") or plain_text(rendered.summary, 160),
        updated=reader.when("updated", settings.tz),
        image=reader.url("image"),
        weight=reader.integer("weight", 0),
        menu=reader.boolean("menu", True),
        aliases=_aliases(reader),
        extra=_extra(doc, KNOWN_PAGE_KEYS),
    )


def make_author(doc: Document, bio_html: str, settings: ContentSettings,
                problems: list[Problem]) -> Author:
    reader = FieldReader(doc, problems)
    stem = doc.rel.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    author_id = slugify(stem, settings.unicode_slugs) or "author"
    email = reader.text("email")
    if email and not is_email(email):
        reader.fail("email", f"expected an email address, got {email!r}")
        email = ""
    website = reader.url("url")
    if website and not website.startswith(("http://", "https://")):
        reader.fail("url", f"expected an http(s) URL for the author's own site, got {website!r}")
        website = None
    path = author_path(author_id)
    return Author(
        id=author_id,
        name=reader.text("name") or title_from_name(stem),
        url=settings.url(path),
        abs_url=settings.abs_url(path),
        email=email,
        website=website,
        avatar=reader.url("avatar"),
        bio=Markup(bio_html),
        source=doc.rel,
    )


def plain_author(name: str, settings: ContentSettings) -> Author:
    """An author named in front matter who has no profile file."""
    author_id = slugify(name, settings.unicode_slugs) or "author"
    path = author_path(author_id)
    return Author(id=author_id, name=name, url=settings.url(path),
                  abs_url=settings.abs_url(path))


def make_comment(doc: Document, content_html: str, index: int, settings: ContentSettings,
                 problems: list[Problem]) -> Comment:
    reader = FieldReader(doc, problems)
    stem = doc.rel.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    name_date, _ = split_jekyll_name(stem)
    when = reader.when("date", settings.tz)
    if when is None and name_date is not None:
        when = datetime.combine(name_date, time(0, 0), tzinfo=settings.tz)
    if when is None and "date" not in doc.meta:
        problems.append(Problem("the reply has no date", doc.rel, 1,
                                hint="add 'date: 2024-03-05' to its front matter"))
    website = reader.url("url")
    if website and not website.startswith(("http://", "https://")):
        reader.fail("url", f"expected an http(s) URL, got {website!r}")
        website = None
    return Comment(
        id=f"reply-{index}",
        post_slug=doc.rel.split("/")[2] if doc.rel.count("/") >= 3 else "",
        name=reader.text("name") or "A reader",
        date=when or datetime(1970, 1, 1, tzinfo=settings.tz),
        content=Markup(content_html),
        website=website,
        source=doc.rel,
    )


def _escape(text: str) -> str:
    return html_module.escape(text, quote=True)
