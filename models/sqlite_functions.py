"""Exact decimal aggregates for SQLite, whose own SUM and MAX work in floating point.

They run inside SQLite's aggregation (events are never handed to the application) and
read a property's raw JSON text (`properties -> '$."key"'`), so 0.1 + 0.2 is exactly 0.3.
PostgreSQL needs none of this: its NUMERIC is exact.

A quantity is a JSON number or a string holding one, with an exponent of at most three
digits: property strings are at most 10,000 characters, so every quantity fits PostgreSQL's
NUMERIC (131,072 digits before the point, 16,383 after) and is answered in reasonable time,
where "1e400000" would overflow NUMERIC (an error) and expand to 400,001 digits on SQLite.
JSON numbers always qualify: 64-bit integers, and floats up to 1.8e308.
"""

from __future__ import annotations

import json
import re
from decimal import Context, Decimal, Inexact, InvalidOperation, localcontext

NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]{1,3})?")
NUMBER_SQL = r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]{1,3})?$"
# Enough digits for any sum of quantities above, exactly: the default context (28 digits)
# would round, and a rounding that still happens raises (Inexact) instead of going unseen.
EXACT = Context(prec=100_000, traps=[InvalidOperation, Inexact])


def parse_number(raw: str | None) -> Decimal | None:
    """A JSON number, or a string holding one; anything else is not a quantity."""
    if raw is None:
        return None
    text = json.loads(raw) if raw.startswith('"') else raw
    if not isinstance(text, str) or not NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


class DecimalSum:
    def __init__(self) -> None:
        self.total: Decimal | None = None

    def step(self, raw: str | None) -> None:
        value = parse_number(raw)
        if value is not None:
            with localcontext(EXACT):
                self.total = value if self.total is None else self.total + value

    def finalize(self) -> str | None:
        return None if self.total is None else format(self.total, "f")


class DecimalMax:
    def __init__(self) -> None:
        self.best: Decimal | None = None

    def step(self, raw: str | None) -> None:
        value = parse_number(raw)
        if value is not None and (self.best is None or value > self.best):
            self.best = value

    def finalize(self) -> str | None:
        return None if self.best is None else format(self.best, "f")


class DecimalLatest:
    """The value of the latest event (by timestamp, then id) that has a number."""

    def __init__(self) -> None:
        self.key: tuple[str, int] | None = None
        self.value: Decimal | None = None

    def step(self, raw: str | None, timestamp: str, row_id: int) -> None:
        value = parse_number(raw)
        if value is not None and (self.key is None or (timestamp, row_id) > self.key):
            self.key, self.value = (timestamp, row_id), value

    def finalize(self) -> str | None:
        return None if self.value is None else format(self.value, "f")


def number_text(raw: str | None) -> str | None:
    """A JSON number's text as PostgreSQL's jsonb writes it: plain digits, no exponent, no
    negative zero (SQLite would give the float's repr, such as '1e-05')."""
    if raw is None:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return raw
    return format(value.copy_abs() if value.is_zero() else value, "f")


FUNCTIONS = (("num_text", 1, number_text),)

AGGREGATES = (
    ("dec_sum", 1, DecimalSum),
    ("dec_max", 1, DecimalMax),
    ("dec_latest", 3, DecimalLatest),
)
