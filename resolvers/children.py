"""Per-parent connections and counts, answered for a whole batch of parents at once.

A key is (parent id, normalised arguments). The batch groups keys by arguments and runs one
query per distinct arguments: `ROW_NUMBER() OVER (PARTITION BY parent ORDER BY key, id)`
keeping `first + 1` (or `last + 1`) rows per parent, never one LIMIT across parents. The
parents are one bound list (`in_ids`), so a statement's SQL is the same for any batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy import Select, func, select

from models.db import UnitOfWork
from models.idlists import in_ids
from resolvers.pagination import (
    Page,
    PageArgs,
    SortKey,
    build_page,
    keyset_order,
    keyset_where,
)

PARENTS = "parents"  # the bound list of parent ids of a batch's statements
STATEMENTS_KEPT = 1024


@dataclass(frozen=True, slots=True)
class ChildKey:
    """One parent's page: the arguments are frozen and normalised (sorted filter tuples)."""

    parent_id: int
    page: PageArgs
    filters: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """One kind of child: `source(filters)` gives the filtered select and its parent column."""

    key: SortKey
    source: Callable[[tuple[Any, ...]], tuple[Select[Any], Any]]


@dataclass(frozen=True, slots=True)
class ChildPage:
    """The statement of a batch of pages, its `parents` bound; its rows carry the parent's
    id in the column named `parent`."""

    statement: Select[Any]
    size: int
    backward: bool
    parent: str


_pages: dict[tuple[Any, ...], ChildPage] = {}
_counts: dict[tuple[Any, ...], Select[Any]] = {}


def child_page(
    spec: ChildSpec,
    page: PageArgs,
    filters: tuple[Any, ...],
    secret: bytes,
    columns: tuple[str, ...] | None = None,
) -> ChildPage:
    """The ranked statement of a batch of pages: every column of the spec's select, or those
    named in `columns` and the parent's (a page that makes cursors names its sort key's,
    `spec.key.fields`). First pages (no cursor) are built once per shape and reused.
    BAD_USER_INPUT for arguments that make no page."""
    size, backward = page.size()
    reusable = page.after is None and page.before is None
    shape = (spec, size, backward, filters, columns)
    if reusable and (known := _pages.get(shape)) is not None:
        return known
    base, parent = spec.source(filters)
    if columns is not None:
        kept = [c for c in base.selected_columns if c.key in columns or c.key == parent.key]
        base = base.with_only_columns(*kept)
    base = keyset_where(base.where(in_ids(parent, PARENTS)), spec.key, page, secret)
    order = keyset_order(spec.key, backward)
    number = func.row_number().over(partition_by=parent, order_by=order).label("rn")
    ranked = base.add_columns(number).subquery()
    statement = select(ranked).where(ranked.c.rn <= size + 1).order_by(ranked.c.rn)
    found = ChildPage(statement, size, backward, parent.key)
    if reusable:
        if len(_pages) >= STATEMENTS_KEPT:
            _pages.clear()
        _pages[shape] = found
    return found


def child_count(spec: ChildSpec, filters: tuple[Any, ...]) -> Select[Any]:
    """How many children each of the bound parents has: rows of (parent, total)."""
    shape = (spec, filters)
    known = _counts.get(shape)
    if known is not None:
        return known
    base, parent_column = spec.source(filters)
    inner = base.where(in_ids(parent_column, PARENTS)).subquery()
    parent = inner.c[parent_column.key]
    statement = select(parent.label("parent"), func.count().label("total")).group_by(parent)
    if len(_counts) >= STATEMENTS_KEPT:
        _counts.clear()
    _counts[shape] = statement
    return statement


class ChildPageLoader(DataLoader[ChildKey, Page]):
    def __init__(
        self, uow: UnitOfWork, spec: ChildSpec, secret: bytes, counts: ChildCountLoader
    ) -> None:
        super().__init__()
        self.uow, self.spec, self.secret, self.counts = uow, spec, secret, counts

    async def batch_load_fn(self, keys: Sequence[ChildKey]) -> list[Page]:
        groups: dict[tuple[PageArgs, tuple[Any, ...]], list[int]] = defaultdict(list)
        for key in keys:
            groups[(key.page, key.filters)].append(key.parent_id)
        pages: dict[ChildKey, Page] = {}
        for (page, filters), parents in groups.items():
            found = child_page(self.spec, page, filters, self.secret)
            rows: dict[int, list[Any]] = defaultdict(list)
            for row in await self.uow.rows(found.statement, {PARENTS: parents}):
                rows[getattr(row, found.parent)].append(row)
            for parent in parents:
                key = ChildKey(parent, page, filters)

                async def count(key: ChildKey = key) -> int:
                    return await self.counts.load(ChildKey(key.parent_id, PageArgs(), key.filters))

                pages[key] = build_page(
                    rows.get(parent, []),
                    found.size,
                    found.backward,
                    self.spec.key,
                    page,
                    self.secret,
                    count,
                )
        return [pages[key] for key in keys]


class ChildCountLoader(DataLoader[ChildKey, int]):
    """How many children each parent has under the same filters: one GROUP BY per filters."""

    def __init__(self, uow: UnitOfWork, spec: ChildSpec) -> None:
        super().__init__()
        self.uow, self.spec = uow, spec

    async def batch_load_fn(self, keys: Sequence[ChildKey]) -> list[int]:
        groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for key in keys:
            groups[key.filters].append(key.parent_id)
        counts: dict[tuple[tuple[Any, ...], int], int] = {}
        for filters, parents in groups.items():
            statement = child_count(self.spec, filters)
            for row in await self.uow.rows(statement, {PARENTS: parents}):
                counts[(filters, row.parent)] = row.total
        return [counts.get((key.filters, key.parent_id), 0) for key in keys]
