"""csblog.toml -> a frozen, typed `SiteConfig`.

Every problem in the file is reported at once: wrong types and values are errors naming the key,
what was expected and what was found; unknown keys are warnings that suggest the nearest valid key.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from csblog.errors import ConfigError, Problem

CONFIG_FILE = "csblog.toml"

DEFAULT_EXTENSIONS: tuple[str, ...] = ("extra", "toc", "codehilite", "smarty", "sane_lists")
PERMALINK_FIELDS = ("year", "month", "day", "slug")


@dataclass(frozen=True)
class FeedConfig:
    full_content: bool = True
    limit: int = 20


@dataclass(frozen=True)
class MarkdownConfig:
    extensions: tuple[str, ...] = DEFAULT_EXTENSIONS
    extension_configs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class DeployTarget:
    """One `[deploy.<name>]` table: where `csblog deploy` publishes."""

    name: str
    type: str  # "git" or "rsync"
    remote: str = ""  # git: any git URL or a local path
    branch: str = "gh-pages"  # git
    destination: str = ""  # rsync: a local folder or user@host:path


@dataclass(frozen=True)
class SiteConfig:
    """Site settings. Documented key by key in the README's configuration reference."""

    site_dir: Path
    title: str = "My csblog site"
    description: str = ""
    base_url: str = "http://localhost:8000/"
    language: str = "en"
    timezone: str = "UTC"
    author: str = ""
    email: str = ""
    posts_per_page: int = 10
    post_permalink: str = "/posts/{slug}/"
    theme: str = "default"
    output_dir: str = "public"
    comments: bool = True
    unicode_slugs: bool = False
    related_posts: int = 3
    toc_min_headings: int = 3
    date_format: str = "%-d %B %Y"
    feed: FeedConfig = FeedConfig()
    markdown: MarkdownConfig = MarkdownConfig()
    extra: Mapping[str, Any] = field(default_factory=dict)
    deploy: tuple[DeployTarget, ...] = ()  # in the file's order: the first is the default

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def base_path(self) -> str:
        """The path part of base_url: "/" or e.g. "/blog/"."""
        path = re.sub(r"^https?://[^/]+", "", self.base_url)
        return path if path.endswith("/") else path + "/"

    @property
    def origin(self) -> str:
        """Scheme and host of base_url, e.g. "https://example.org"."""
        match = re.match(r"^https?://[^/]+", self.base_url)
        return match.group(0) if match else ""

    @property
    def output_path(self) -> Path:
        return (self.site_dir / self.output_dir).resolve()

    def with_overrides(self, base_url: str | None = None,
                       output_dir: str | None = None) -> SiteConfig:
        """The same settings with command-line overrides applied (and checked)."""
        changes: dict[str, Any] = {}
        if base_url is not None:
            problems: list[Problem] = []
            checked = _check_base_url(base_url, "--base-url", problems)
            if problems:
                raise ConfigError.many(problems)
            changes["base_url"] = checked
        if output_dir is not None:
            changes["output_dir"] = output_dir
        return replace(self, **changes)


# --- the schema ------------------------------------------------------------------------------

Checker = Callable[[Any, str, list[Problem]], Any]


def _type_name(value: object) -> str:
    return {
        str: "a string", bool: "true/false", int: "a whole number", float: "a number",
        list: "a list", dict: "a table",
    }.get(type(value), type(value).__name__)


def _want(kind: type, described: str) -> Checker:
    def check(value: Any, key: str, problems: list[Problem]) -> Any:
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            problems.append(
                Problem(f"'{key}': expected {described}, got {_type_name(value)} ({value!r})",
                        CONFIG_FILE)
            )
            return None
        return value

    return check


def _positive_int(minimum: int) -> Checker:
    base = _want(int, "a whole number")

    def check(value: Any, key: str, problems: list[Problem]) -> Any:
        value = base(value, key, problems)
        if value is not None and value < minimum:
            problems.append(
                Problem(f"'{key}': expected a whole number of at least {minimum}, got {value}",
                        CONFIG_FILE)
            )
            return None
        return value

    return check


def _check_base_url(value: Any, key: str, problems: list[Problem]) -> Any:
    if not isinstance(value, str):
        return _want(str, "a string")(value, key, problems)
    if not re.match(r"^https?://[^/\s]+(/[^\s?#]*)?$", value):
        problems.append(Problem(
            f"'{key}': expected an absolute http(s) URL such as \"https://example.org/\" "
            f"or \"https://example.org/blog/\", got {value!r}", CONFIG_FILE))
        return None
    return value if value.endswith("/") else value + "/"


def _check_timezone(value: Any, key: str, problems: list[Problem]) -> Any:
    if _want(str, "a string")(value, key, problems) is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(Problem(
            f"'{key}': unknown time zone {value!r}",
            CONFIG_FILE,
            hint='use an IANA name such as "UTC", "Europe/Lisbon" or "America/Chicago"'))
        return None
    return value


def _check_permalink(value: Any, key: str, problems: list[Problem]) -> Any:
    if _want(str, "a string")(value, key, problems) is None:
        return None
    fields = set(re.findall(r"\{([^}]*)\}", value))
    unknown = fields - set(PERMALINK_FIELDS)
    unsafe = "\\" in value or any(ord(c) < 32 for c in value) or value.startswith("//")
    if unknown or "slug" not in fields or not value.startswith("/") or ".." in value or unsafe:
        problems.append(Problem(
            f"'{key}': expected a path starting with '/' that contains {{slug}} and only "
            f"{', '.join('{' + f + '}' for f in PERMALINK_FIELDS)}, got {value!r}", CONFIG_FILE))
        return None
    return value


def _check_extensions(value: Any, key: str, problems: list[Problem]) -> Any:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(Problem(f"'{key}': expected a list of extension names, got {value!r}",
                                CONFIG_FILE))
        return None
    return tuple(value)


def _check_table(value: Any, key: str, problems: list[Problem]) -> Any:
    return _want(dict, "a table")(value, key, problems)


_STR = _want(str, "a string")
_BOOL = _want(bool, "true or false")

# key in the file -> (attribute on SiteConfig or a nested config, checker)
TOP_LEVEL: dict[str, tuple[str, Checker]] = {
    "title": ("title", _STR),
    "description": ("description", _STR),
    "base_url": ("base_url", _check_base_url),
    "language": ("language", _STR),
    "timezone": ("timezone", _check_timezone),
    "author": ("author", _STR),
    "email": ("email", _STR),
    "posts_per_page": ("posts_per_page", _positive_int(1)),
    "theme": ("theme", _STR),
    "output_dir": ("output_dir", _STR),
    "comments": ("comments", _BOOL),
    "unicode_slugs": ("unicode_slugs", _BOOL),
    "related_posts": ("related_posts", _positive_int(0)),
    "toc_min_headings": ("toc_min_headings", _positive_int(0)),
    "date_format": ("date_format", _STR),
}
TABLES = ("permalinks", "feed", "markdown", "extra", "deploy")
DEPLOY_KEYS = {"git": ("type", "remote", "branch"), "rsync": ("type", "destination")}


def _deploy_targets(table: Mapping[str, Any], problems: list[Problem],
                    warnings: list[Problem]) -> tuple[DeployTarget, ...]:
    targets = []
    for name, target in table.items():
        key = f"deploy.{name}"
        if not isinstance(target, dict):
            problems.append(Problem(f"'{key}': expected a table ([{key}]), got "
                                    f"{_type_name(target)}", CONFIG_FILE))
            continue
        kind = target.get("type")
        if kind not in DEPLOY_KEYS:
            problems.append(Problem(f"'{key}.type': expected \"git\" or \"rsync\", got {kind!r}",
                                    CONFIG_FILE))
            continue
        for extra_key in target:
            if extra_key not in DEPLOY_KEYS[kind]:
                warnings.append(Problem(f"unknown setting '{key}.{extra_key}' (ignored)",
                                        CONFIG_FILE,
                                        hint=_suggest(extra_key, list(DEPLOY_KEYS[kind]))))
        values = {k: target[k] for k in DEPLOY_KEYS[kind] if k in target and k != "type"}
        for k, v in values.items():
            if not isinstance(v, str) or not v.strip():
                problems.append(Problem(f"'{key}.{k}': expected a non-empty string, got {v!r}",
                                        CONFIG_FILE))
        required = "remote" if kind == "git" else "destination"
        if required not in values:
            problems.append(Problem(f"'{key}': a {kind} target needs '{required}'", CONFIG_FILE,
                                    hint=f'add {required} = "..." under [{key}]'))
        targets.append(DeployTarget(name=name, type=kind, **{
            k: v for k, v in values.items() if isinstance(v, str)}))
    return tuple(targets)
PERMALINK_KEYS: dict[str, tuple[str, Checker]] = {"posts": ("post_permalink", _check_permalink)}
FEED_KEYS: dict[str, tuple[str, Checker]] = {
    "full_content": ("full_content", _BOOL),
    "limit": ("limit", _positive_int(0)),
}
MARKDOWN_KEYS: dict[str, tuple[str, Checker]] = {
    "extensions": ("extensions", _check_extensions),
    "extension_configs": ("extension_configs", _check_table),
}


def _suggest(key: str, valid: list[str]) -> str | None:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def _apply(
    table: Mapping[str, Any],
    schema: dict[str, tuple[str, Checker]],
    prefix: str,
    problems: list[Problem],
    warnings: list[Problem],
    extra_valid: tuple[str, ...] = (),
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in extra_valid:
            continue
        full_key = prefix + key
        if key not in schema:
            valid = list(schema) + list(extra_valid)
            warnings.append(Problem(f"unknown setting '{full_key}' (ignored)", CONFIG_FILE,
                                    hint=_suggest(key, valid)))
            continue
        attr, check = schema[key]
        checked = check(value, full_key, problems)
        if checked is not None:
            values[attr] = checked
    return values


def parse_config(text: str, site_dir: Path) -> tuple[SiteConfig, list[Problem]]:
    """Parse the text of csblog.toml. Returns the config and warnings; raises ConfigError."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line, column = (int(match.group(1)), int(match.group(2))) if match else (None, None)
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError(f"this is not valid TOML: {message}", CONFIG_FILE, line,
                          hint="check quotes, brackets and '=' on that line",
                          column=column) from None
    problems: list[Problem] = []
    warnings: list[Problem] = []
    values = _apply(data, TOP_LEVEL, "", problems, warnings, extra_valid=TABLES)
    for name in TABLES:
        if name in data and not isinstance(data[name], dict):
            problems.append(Problem(
                f"'{name}': expected a table ([{name}]), got {_type_name(data[name])}",
                CONFIG_FILE))
    if isinstance(data.get("permalinks"), dict):
        values.update(_apply(data["permalinks"], PERMALINK_KEYS, "permalinks.", problems, warnings))
    if isinstance(data.get("feed"), dict):
        values["feed"] = FeedConfig(**_apply(data["feed"], FEED_KEYS, "feed.", problems, warnings))
    if isinstance(data.get("markdown"), dict):
        md = _apply(data["markdown"], MARKDOWN_KEYS, "markdown.", problems, warnings)
        values["markdown"] = MarkdownConfig(**md)
    if isinstance(data.get("deploy"), dict):
        values["deploy"] = _deploy_targets(data["deploy"], problems, warnings)
    if isinstance(data.get("extra"), dict):
        values["extra"] = data["extra"]
    if problems:
        raise ConfigError.many(problems)
    return SiteConfig(site_dir=site_dir, **values), warnings


def load_config(site_dir: Path) -> tuple[SiteConfig, list[Problem]]:
    """Read `csblog.toml` in `site_dir`."""
    path = site_dir / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"no {CONFIG_FILE} in {site_dir}",
                          hint="run csblog in a site folder, or create one with 'csblog init'")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError("the file is not UTF-8 text", CONFIG_FILE,
                          hint="save it as UTF-8 in your editor") from None
    return parse_config(text, site_dir.resolve())
