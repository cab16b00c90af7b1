"""Per-parent connections and counts, answered for a whole batch of parents at once.

A key is (parent id, normalised arguments). The batch groups keys by arguments and runs one
query per distinct arguments: `ROW_NUMBER() OVER (PARTITION BY parent ORDER BY key, id)`
keeping `first + 1` (or `last + 1`) rows per parent, never one LIMIT across parents.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from aiodataloader import DataLoader
from sqlalchemy import BindParameter, Select, bindparam, func, select

from models.db import UnitOfWork
from resolvers.pagination import (
    Page,
    PageArgs,
    SortKey,
    build_page,
    keyset_order,
    keyset_where,
)


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


class ChildPageLoader(DataLoader[ChildKey, Page]):
    def __init__(
        self, uow: UnitOfWork, spec: ChildSpec, secret: bytes, counts: ChildCountLoader
    ) -> None:
        super().__init__()
        self.uow, self.spec, self.secret, self.counts = uow, spec, secret, counts

    # First pages (no cursor) are built once per shape and reused: the parents are bound.
    _first_pages: ClassVar[dict[tuple[Any, ...], tuple[Select[Any], str]]] = {}

    def _statement(
        self, page: PageArgs, filters: tuple[Any, ...]
    ) -> tuple[Select[Any], int, bool, str]:
        """The ranked statement of a batch, its `parents` bound: (statement, size,
        backward, name of the parent column)."""
        spec = self.spec
        size, backward = page.size()
        reusable = page.after is None and page.before is None
        shape = (spec, size, backward, filters)
        if reusable and (known := self._first_pages.get(shape)):
            return known[0], size, backward, known[1]
        base, parent = spec.source(filters)
        bound: BindParameter[list[int]] = bindparam("parents", expanding=True)
        base = keyset_where(base.where(parent.in_(bound)), spec.key, page, self.secret)
        order = keyset_order(spec.key, backward)
        number = func.row_number().over(partition_by=parent, order_by=order).label("rn")
        ranked = base.add_columns(number).subquery()
        statement = select(ranked).where(ranked.c.rn <= size + 1).order_by(ranked.c.rn)
        if reusable:
            self._first_pages[shape] = (statement, parent.key)
        return statement, size, backward, parent.key

    async def batch_load_fn(self, keys: Sequence[ChildKey]) -> list[Page]:
        groups: dict[tuple[PageArgs, tuple[Any, ...]], list[int]] = defaultdict(list)
        for key in keys:
            groups[(key.page, key.filters)].append(key.parent_id)
        pages: dict[ChildKey, Page] = {}
        for (page, filters), parents in groups.items():
            statement, size, backward, parent_name = self._statement(page, filters)
            rows: dict[int, list[Any]] = defaultdict(list)
            for row in await self.uow.rows(statement, {"parents": parents}):
                rows[getattr(row, parent_name)].append(row)
            for parent in parents:
                key = ChildKey(parent, page, filters)

                async def count(key: ChildKey = key) -> int:
                    return await self.counts.load(ChildKey(key.parent_id, PageArgs(), key.filters))

                pages[key] = build_page(
                    rows.get(parent, []), size, backward, self.spec.key, page, self.secret, count
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
        spec = self.spec
        for filters, parents in groups.items():
            base, parent_column = spec.source(filters)
            inner = base.where(parent_column.in_(parents)).subquery()
            parent = inner.c[parent_column.key]
            statement = select(parent.label("parent"), func.count().label("total"))
            for row in await self.uow.execute(statement.group_by(parent)):
                counts[(filters, row.parent)] = row.total
        return [counts.get((key.filters, key.parent_id), 0) for key in keys]
