"""User errors as plain data: the mutation boundary turns them into `UserError`s."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Code(StrEnum):
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    TAKEN = "TAKEN"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    ARCHIVED = "ARCHIVED"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"


@dataclass(frozen=True)
class Problem:
    code: Code
    field: tuple[str, ...]
    message: str


class Rejected(Exception):
    """Raised inside a mutation to roll it back and answer with these problems."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].message if problems else "rejected")
        self.problems = problems


def text_problem(value: str, field: tuple[str, ...], max_length: int) -> Problem | None:
    """A string no database can store safely, or one that is too long."""
    if "\x00" in value:
        return Problem(Code.INVALID, field, "Must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return Problem(Code.INVALID, field, "Must be valid Unicode text")
    if len(value) > max_length:
        return Problem(Code.TOO_LONG, field, f"Must be at most {max_length} characters")
    return None
