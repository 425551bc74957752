"""The theme search path and the Jinja environment.

Templates are looked up in order: the site's `templates/`, the site's `themes/<theme>/templates/`,
then the built-in default theme. The prefix "default/" always reaches the built-in default theme,
so a site template can extend the template it replaces: `{% extends "default/post.html" %}`.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2

import csblog
from csblog.config import SiteConfig
from csblog.discovery import THEMES_DIR
from csblog.errors import ThemeError

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_Spell = Callable[[datetime], str]


def builtin_theme_dir() -> Path:
    """The default theme: inside the installed package, or beside it in a source checkout."""
    package = Path(csblog.__file__).resolve().parent
    for candidate in (package / "themes" / "default", package.parent / "themes" / "default"):
        if (candidate / "templates").is_dir():
            return candidate
    raise ThemeError("the built-in default theme is missing from this csblog installation",
                     hint="reinstall csblog: pip install --force-reinstall csblog")


@dataclass(frozen=True)
class Theme:
    name: str
    template_dirs: tuple[Path, ...]  # searched in order
    static_dirs: tuple[Path, ...]  # copied in order; a later file replaces an earlier one
    builtin_dir: Path


def available_themes(site_dir: Path) -> list[str]:
    names = {"default"}
    themes = site_dir / THEMES_DIR
    if themes.is_dir():
        names |= {p.name for p in themes.iterdir() if (p / "templates").is_dir()}
    return sorted(names)


def find_theme(config: SiteConfig) -> Theme:
    builtin = builtin_theme_dir()
    site_dir = config.site_dir
    own = site_dir / THEMES_DIR / config.theme
    if config.theme != "default" and not (own / "templates").is_dir():
        raise ThemeError(
            f"'theme': there is no theme named {config.theme!r}", "csblog.toml",
            hint=f"available themes: {', '.join(available_themes(site_dir))} "
                 f"(a theme is a folder themes/<name>/ with templates/ inside)")
    templates: list[Path] = []
    if (site_dir / "templates").is_dir():
        templates.append(site_dir / "templates")
    if (own / "templates").is_dir() and own.resolve() != builtin.resolve():
        templates.append(own / "templates")
    templates.append(builtin / "templates")
    statics = [builtin / "static"]
    if (own / "static").is_dir() and own.resolve() != builtin.resolve():
        statics.append(own / "static")
    return Theme(config.theme, tuple(templates), tuple(p for p in statics if p.is_dir()), builtin)


# the directives format_date spells itself; the others are strftime's
_ENGLISH: dict[str, _Spell] = {
    "%B": lambda d: MONTHS[d.month - 1], "%b": lambda d: MONTHS[d.month - 1][:3],
    "%A": lambda d: DAYS[d.weekday()], "%a": lambda d: DAYS[d.weekday()][:3],
    "%-d": lambda d: str(d.day), "%-m": lambda d: str(d.month), "%-H": lambda d: str(d.hour),
    "%-I": lambda d: str(d.hour % 12 or 12),
}


@functools.lru_cache(maxsize=64)
def _format_parts(fmt: str) -> tuple[tuple[str, ...], tuple[tuple[int, _Spell], ...]]:
    """`fmt` cut around its directives, and where each directive spelt in English goes."""
    parts = tuple(re.split(r"(%-?[a-zA-Z])", fmt))
    return parts, tuple((i, _ENGLISH[p]) for i, p in enumerate(parts) if p in _ENGLISH)


def format_date(value: datetime, fmt: str) -> str:
    """strftime with English month and day names whatever the machine's locale."""
    parts, english = _format_parts(fmt)
    if not english:
        return value.strftime(fmt)
    pieces = list(parts)
    for i, name in english:
        pieces[i] = name(value)
    return value.strftime("".join(pieces))


class _TemplateCodeCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept between builds (keyed by Jinja on the template's path and text).

    Compiling the theme's templates is a tenth of a second on every build; a cache that cannot
    be read or written is simply not used.
    """

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError, EOFError, ValueError, TypeError):
            super().load_bytecode(bucket)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def template_code_cache(folder: Path) -> jinja2.BytecodeCache | None:
    """A cache of compiled templates in `folder` (created), or None when it cannot be made."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return _TemplateCodeCache(str(folder))


class _Environment(jinja2.Environment):
    """Jinja's environment, with each template's globals in a plain dict.

    Jinja keeps them in a ChainMap over the environment's globals, which it walks in Python
    for every page, include and import (a tenth of the time spent rendering a listing). The
    environment's globals are all set before the first template is loaded, so a copy is the same.
    """

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return {**self.globals, **(d or {})}


def make_environment(theme: Theme, config: SiteConfig, url: Callable[[str], str],
                     abs_url: Callable[[str], str]) -> jinja2.Environment:
    loader = jinja2.ChoiceLoader([
        jinja2.FileSystemLoader([str(p) for p in theme.template_dirs]),
        jinja2.PrefixLoader({"default": jinja2.FileSystemLoader(str(theme.builtin_dir /
                                                                    "templates"))}),
    ])
    env = _Environment(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        cache_size=-1,  # a plain dict of every template loaded: a build uses them all, often
    )
    env.filters["date"] = lambda value, fmt=None: format_date(value, fmt or config.date_format)
    env.filters["isodate"] = lambda value: value.isoformat()
    env.globals["url"] = url
    env.globals["abs_url"] = abs_url
    return env


def template_error(exc: Exception, template_name: str, site_dir: Path,
                   tb: TracebackType | None = None) -> ThemeError:
    """A ThemeError naming the template file and line of a Jinja failure."""
    filename, line = None, None
    if isinstance(exc, jinja2.TemplateSyntaxError):
        filename, line = exc.filename, exc.lineno
    else:
        frame = tb or exc.__traceback__
        while frame is not None:
            code = frame.tb_frame.f_code
            if code.co_filename.endswith((".html", ".xml", ".txt")):
                filename, line = code.co_filename, frame.tb_lineno
            frame = frame.tb_next
    shown = filename or template_name
    with contextlib.suppress(ValueError):
        shown = str(Path(shown).resolve().relative_to(site_dir.resolve()))
    message = getattr(exc, "message", None) or str(exc)
    if isinstance(exc, jinja2.UndefinedError):
        hint = "the theme uses a variable that does not exist: see the theme API in the README"
    elif isinstance(exc, jinja2.TemplateNotFound):
        hint = "add the template to your theme's templates/ folder"
        message = f"template not found: {exc.name}"
    else:
        hint = "fix the template syntax"
    return ThemeError(f"template error: {message}", shown, line, hint=hint)
