"""Errors and warnings that name the file, the line and how to fix the problem.

Every problem a writer can cause is a `CsblogError`; the command line turns it into one clear
message and a non-zero exit. A traceback is a bug.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in one file."""

    message: str
    path: str | None = None
    line: int | None = None
    column: int | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.path:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        text = where + self.message
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class CsblogError(Exception):
    """A problem the writer can fix. Carries one or more `Problem`s."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        path: str | Path | None = None,
        line: int | None = None,
        hint: str | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.problems: tuple[Problem, ...] = (
            Problem(message, str(path) if path is not None else None, line, column, hint),
        )

    @classmethod
    def many(cls, problems: Iterable[Problem]) -> CsblogError:
        """One error that reports several problems at once."""
        problems = tuple(problems)
        err = cls(problems[0].message)
        err.problems = problems
        return err

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class ConfigError(CsblogError):
    """csblog.toml is missing, does not parse, or has bad values."""


class ContentError(CsblogError):
    """A post, page, author or reply has a problem."""


class ThemeError(CsblogError):
    """A theme is missing or one of its templates is broken."""


class UsageError(CsblogError):
    """The command line was used wrongly."""

    exit_code = 2
