"""User errors as plain data: the mutation boundary turns them into `UserError`s."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

import orjson

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


_LONG_NUMBER = re.compile(rb"\d{19}")  # 2**63 has 19 digits


def plain_json(value: Any) -> bytes | None:
    """orjson's encoding of the value when it is plainly fine: a fast yes for the common
    case. orjson refuses what is not JSON (other types, bad Unicode, integers past 64 bits,
    deep nesting). What it lets through and `json_problem` refuses (NUL, NaN as null,
    integers from 2**63, long strings) gives None, and the value to the full walk."""
    try:
        encoded = orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return None
    fine = (
        len(encoded) <= 10_000
        and b"\\u0000" not in encoded
        and b"null" not in encoded
        and _LONG_NUMBER.search(encoded) is None
    )
    return encoded if fine else None


def json_problem(value: Any, field: Field) -> Problem | None:
    """A JSON value no database or response encoder can carry: bad text, huge or non-finite
    numbers (PostgreSQL refuses NUL in jsonb, Infinity is not JSON, and integers beyond 64 bits
    can not be answered)."""
    return None if plain_json(value) is not None else walk_json(value, field)


def walk_json(value: Any, field: Field) -> Problem | None:
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
