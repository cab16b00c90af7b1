"""User errors as plain data: the mutation boundary turns them into `UserError`s."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

JSON_INT_MIN, JSON_INT_MAX = -(2**63), 2**63 - 1
Field = tuple[str, ...]


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


def json_problem(value: Any, field: Field) -> Problem | None:
    """A JSON value no database or response encoder can carry: bad text, huge or non-finite
    numbers (PostgreSQL refuses NUL in jsonb, Infinity is not JSON, and integers beyond 64 bits
    can not be answered)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                problem = text_problem(str(key), field, 10_000)
                if problem:
                    return Problem(Code.INVALID, field, f"A key: {problem.message}")
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            problem = text_problem(item, field, 10_000)
            if problem:
                return Problem(Code.INVALID, field, f"A value: {problem.message}")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not JSON_INT_MIN <= item <= JSON_INT_MAX:
                return Problem(Code.INVALID, field, "Integers must fit in 64 bits")
        elif isinstance(item, float):
            if not math.isfinite(item):
                return Problem(Code.INVALID, field, "Numbers must be finite")
        elif isinstance(item, Decimal):  # domain.jsontext: more digits than a double holds
            message = "A number has more digits than a 64-bit float keeps: send it as a string"
            return Problem(Code.INVALID, field, message)
        else:
            return Problem(Code.INVALID, field, "Must be plain JSON")
    return None
