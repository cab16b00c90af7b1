"""Keyset pagination over (sort key, id) with opaque signed cursors (Relay Cursor Connections).

Each page is one bounded query: `first + 1` (or `last + 1`) rows past the cursor, in the
order asked for (reversed for `last`), so `hasNextPage`/`hasPreviousPage` need no COUNT.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, tuple_

from domain.cursors import CursorValue, decode_cursor, encode_cursor
from domain.errors import BadUserInput

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True, slots=True)
class PageArgs:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    def size(self) -> tuple[int, bool]:
        """(number of rows, backward?) after checking the Relay arguments."""
        if self.first is not None and self.last is not None:
            raise BadUserInput("Pass either first or last, not both")
        for name, value in (("first", self.first), ("last", self.last)):
            if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
                raise BadUserInput(f"{name} must be between 0 and {MAX_PAGE_SIZE}", argument=name)
        if self.last is not None:
            return self.last, True
        if self.first is None and self.before is not None:
            return DEFAULT_PAGE_SIZE, True
        return (self.first if self.first is not None else DEFAULT_PAGE_SIZE), False


@dataclass(frozen=True, slots=True)
class SortKey:
    """One ordering: its columns (the last one unique, e.g. the primary key) and direction."""

    tag: str
    columns: tuple[Any, ...]
    row_values: Callable[[Any], tuple[Any, ...]]
    descending: bool
    datetimes: frozenset[int] = frozenset()
    # The row attributes `row_values` reads: a statement whose rows make cursors selects them.
    fields: tuple[str, ...] = ("id",)

    def to_cursor(self, secret: bytes, row: Any) -> str:
        values: list[CursorValue] = [
            value.isoformat() if isinstance(value, datetime) else value
            for value in self.row_values(row)
        ]
        return encode_cursor(secret, self.tag, values)

    def from_cursor(self, secret: bytes, cursor: str) -> tuple[Any, ...]:
        values = decode_cursor(secret, self.tag, cursor)
        if len(values) != len(self.columns):
            raise BadUserInput("Invalid cursor")
        try:
            return tuple(
                datetime.fromisoformat(str(v)) if i in self.datetimes else v
                for i, v in enumerate(values)
            )
        except ValueError:
            raise BadUserInput("Invalid cursor") from None


@dataclass(slots=True)
class Page:
    """One page of rows; cursors are signed only when a response asks for them."""

    rows: Sequence[Row[Any]]
    has_next: bool
    has_previous: bool
    count: Callable[[], Awaitable[int]] = field(repr=False)
    key: SortKey = field(repr=False)
    secret: bytes = field(repr=False)

    def cursor(self, index: int) -> str:
        return self.key.to_cursor(self.secret, self.rows[index])

    @property
    def cursors(self) -> list[str]:
        return [self.key.to_cursor(self.secret, row) for row in self.rows]

    @property
    def start_cursor(self) -> str | None:
        return self.cursor(0) if self.rows else None

    @property
    def end_cursor(self) -> str | None:
        return self.cursor(-1) if self.rows else None


def keyset_where(
    statement: Select[Any], key: SortKey, args: PageArgs, secret: bytes
) -> Select[Any]:
    """Only rows past `after` and before `before`, compared as (sort key, id) tuples."""
    columns = tuple_(*key.columns)
    for cursor, after in ((args.after, True), (args.before, False)):
        if cursor is None:
            continue
        values = tuple_(*key.from_cursor(secret, cursor))
        ahead = after != key.descending
        statement = statement.where(columns > values if ahead else columns < values)
    return statement


def keyset_order(key: SortKey, backward: bool) -> list[Any]:
    """The ORDER BY of a page: the key's direction, reversed when paging backward."""
    descending = key.descending != backward
    return [c.desc() if descending else c.asc() for c in key.columns]


def page_statement(
    statement: Select[Any], key: SortKey, args: PageArgs, secret: bytes
) -> tuple[Select[Any], int, bool]:
    """The bounded statement for one page, its size and whether it runs backward."""
    size, backward = args.size()
    statement = keyset_where(statement, key, args, secret)
    return statement.order_by(*keyset_order(key, backward)).limit(size + 1), size, backward


def cut_page(
    rows: Sequence[Any], size: int, backward: bool, args: PageArgs
) -> tuple[list[Any], bool, bool]:
    """A page's rows in answer order, hasNextPage and hasPreviousPage, from the `size + 1`
    rows its statement read (see the module's docstring)."""
    more = len(rows) > size
    kept = list(rows[:size])
    if backward:
        kept.reverse()
        return kept, args.before is not None, more
    return kept, more, args.after is not None


def build_page(
    rows: Sequence[Row[Any]],
    size: int,
    backward: bool,
    key: SortKey,
    args: PageArgs,
    secret: bytes,
    count: Callable[[], Awaitable[int]],
) -> Page:
    kept, has_next, has_previous = cut_page(rows, size, backward, args)
    return Page(kept, has_next, has_previous, count, key, secret)
