"""Runs a direct plan on one checked-out connection: the statements level by level, then
the answer built from the rows by the plan's projectors.

Level 0 is the root fields: a `customers` page (and its COUNT when `totalCount` is asked
for) per field, and one statement for every `customer(id: ...)` together. Each next level
is the nested connections of the rows just read: one statement per kind of child and
distinct arguments, for all parents at once, as the loaders batch them, and one GROUP BY
per kind and filters for their `totalCount`. The statements are the resolvers' own
(resolvers/customers.py, resolvers/children.py, resolvers/loaders.py), selecting only the
plan's columns. Whatever a resolver would refuse (a bad cursor, `first` over 100, an ID
that does not decode) raises, and the request goes to the executor, which answers it with
its errors.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any

from graphql.execution.values import VariableValues
from sqlalchemy import Dialect

from domain.ids import decode_int_id, encode_global_id
from models import Customer
from models.compiled import CompiledRead, compile_read, row_type
from models.reads import KeyRow, Reader
from resolvers.children import PARENTS, child_count, child_page
from resolvers.customers import customer_lookup, customer_page
from resolvers.loaders import rows_by_ids
from resolvers.pagination import PageArgs, SortKey, cut_page
from schema.customers import customer_query
from schema.direct.errors import Fallback
from schema.direct.plan import (
    CUSTOMER_PAGES,
    CUSTOMERS_BY_ID,
    ChildField,
    ConnectionPlan,
    DirectPlan,
    ObjectPlan,
    RootField,
)
from schema.direct.tables import Side

Row = Sequence[Any]
Project = Callable[[Row], dict[str, Any]]


@cache
def _attributes(model: Any, names: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(getattr(model, name) for name in names)


@dataclass(eq=False, slots=True)
class Rows:
    """What a page's statement read, cut to the page."""

    rows: list[Row]
    has_next: bool
    has_previous: bool
    key: SortKey
    read: CompiledRead
    total: int | None = None


@dataclass(eq=False, slots=True)
class Batch:
    """One statement's worth of child pages: every parent with these arguments."""

    child: ChildField
    page: PageArgs
    filters: tuple[Any, ...]
    parents: list[Any] = field(default_factory=list)
    by_parent: dict[Any, list[Row]] = field(default_factory=dict)
    rows: Sequence[Row] = ()
    size: int = 0
    backward: bool = False
    read: CompiledRead | None = None
    totals: dict[Any, int] | None = None


class DirectRun:
    def __init__(
        self,
        plan: DirectPlan,
        reader: Reader,
        variables: VariableValues | None,
        secret: bytes,
        dialect: Dialect,
    ) -> None:
        self.plan, self.reader, self.variables = plan, reader, variables
        self.secret, self.dialect = secret, dialect
        self.pages: dict[RootField, Rows] = {}
        self.found: dict[RootField, Row | None] = {}  # each `customer(...)`'s row
        self.batches: dict[ChildField, Batch] = {}
        self.sides: dict[tuple[int, str], dict[Any, Any]] = {}  # (plan, side) → by parent

    async def execute(self) -> dict[str, Any]:
        sites = await self.roots()
        while sites:
            sites = await self.level(sites)
        return self.answer()

    def read(self, statement: Any, source: str) -> CompiledRead:
        """The compiled statement, checked to select the plan's columns first, in order."""
        read = compile_read(statement, self.dialect)
        columns = self.plan.columns[source]
        if read.columns[: len(columns)] != columns:
            raise Fallback(f"{source} selects {read.columns}, the plan reads {columns}")
        return read

    # ----------------------------------------------------------------- fetching

    async def roots(self) -> list[tuple[ObjectPlan, Sequence[Row]]]:
        sites: list[tuple[ObjectPlan, Sequence[Row]]] = []
        wanted: dict[RootField, int | Row | None] = {}
        for root in self.plan.roots:
            if root.kind == "customers":
                assert root.arguments is not None and root.connection is not None
                page = await self.customers(root)
                self.pages[root] = page
                sites += [(node, page.rows) for node in root.connection.nodes]
            elif root.kind == "customer":
                assert root.arguments is not None
                wanted[root] = await self.customer(root.arguments.values(self.variables))
        keys = list(dict.fromkeys(key for key in wanted.values() if isinstance(key, int)))
        by_id: dict[int, Row] = {}
        if keys:  # every `customer(id:)` of the request in one statement, as the loader's
            statement, values = rows_by_ids(self.customer_columns(), keys)
            read = self.read(statement, CUSTOMERS_BY_ID)
            by_id = {row[0]: row for row in await self.reader.rows(read, values)}
        for root, key in wanted.items():
            found = by_id.get(key) if isinstance(key, int) else key
            self.found[root] = found
            if found is not None and root.node is not None:
                sites.append((root.node, [found]))
        return sites

    def customer_columns(self) -> tuple[Any, ...]:
        return _attributes(Customer, self.plan.columns[CUSTOMERS_BY_ID])

    async def customer(self, arguments: dict[str, Any]) -> int | Row | None:
        """`customer(...)`'s key by `id` (None for another type's ID), or its row (or None)
        found by handle, externalId or ingest alias; as resolve_customer answers."""
        given = [name for name, value in arguments.items() if value is not None]
        if len(given) != 1:
            raise Fallback("customer(...) without exactly one key")
        if given == ["id"]:
            return decode_int_id(str(arguments["id"]), "Customer")
        statement = customer_lookup(
            handle=arguments.get("handle"),
            external_id=arguments.get("external_id"),
            ingest_alias=arguments.get("ingest_alias"),
            columns=self.customer_columns(),
        )
        rows = await self.reader.rows(self.read(statement, CUSTOMERS_BY_ID))
        return rows[0] if rows else None

    async def customers(self, root: RootField) -> Rows:
        assert root.arguments is not None and root.connection is not None
        connection, memo = root.connection, self.plan.memo
        known = memo.get(root)
        if known is None:
            query = customer_query(**root.arguments.values(self.variables))
            columns = _attributes(Customer, self.plan.columns[CUSTOMER_PAGES])
            page = customer_page(query, self.secret, columns)
            known = (query, page, self.read(page.statement, CUSTOMER_PAGES))
            if root.arguments.constant is not None:  # the same statement every time
                memo[root] = known
        query, page, read = known
        rows, has_next, has_previous = cut_page(
            await self.reader.rows(read), page.size, page.backward, query.page
        )
        found = Rows(rows, has_next, has_previous, page.key, read)
        if connection.count:
            counted = await self.reader.rows(compile_read(page.count, self.dialect))
            found.total = int(counted[0][0])
        return found

    async def level(
        self, sites: list[tuple[ObjectPlan, Sequence[Row]]]
    ) -> list[tuple[ObjectPlan, Sequence[Row]]]:
        batches: dict[tuple[Any, ...], Batch] = {}
        counts: dict[tuple[Any, ...], list[Batch]] = defaultdict(list)
        fields: list[ChildField] = []
        sides: dict[str, tuple[Side, list[Any], list[ObjectPlan]]] = {}
        for plan, rows in sites:
            if not (plan.children or plan.sides) or not rows:
                continue
            key_index = self.plan.columns[plan.source].index("id")
            parents = [row[key_index] for row in rows]
            for name in plan.sides:
                side = plan.table.side(name)
                wanting = sides.setdefault(name, (side, [], []))
                wanting[1].extend(parents)
                wanting[2].append(plan)
            for child in plan.children:
                page, filters = self.child_arguments(child)
                shape = (child.child.spec, page, filters)
                batch = batches.get(shape)
                if batch is None:
                    batch = batches[shape] = Batch(child, page, filters)
                batch.parents += parents
                self.batches[child] = batch
                fields.append(child)
                if child.connection.count:
                    counts[(child.child.spec, filters)].append(batch)
        for batch in batches.values():
            await self.fetch(batch)
        for side, parents, plans in sides.values():
            found = await self.side(side, list(dict.fromkeys(parents)))
            for plan in plans:
                self.sides[(id(plan), side.name)] = found
        for (spec, filters), counted in counts.items():
            parents = list(dict.fromkeys(p for batch in counted for p in batch.parents))
            read = compile_read(child_count(spec, filters), self.dialect)
            totals = {
                row[0]: int(row[1]) for row in await self.reader.rows(read, {PARENTS: parents})
            }
            for batch in counted:
                batch.totals = totals
        return [
            (node, self.batches[child].rows) for child in fields for node in child.connection.nodes
        ]

    async def side(self, side: Side, parents: list[Any]) -> dict[Any, Any]:
        """A side's rows of these parents: a list each, or one row each."""
        read = compile_read(side.statement(), self.dialect)
        shape = row_type(read.columns)
        rows = [shape._make(row) for row in await self.reader.rows(read, {side.parameter: parents})]
        if not side.many:
            return {getattr(row, side.parent): row for row in rows}
        found: dict[Any, list[Any]] = defaultdict(list)
        for row in rows:
            found[getattr(row, side.parent)].append(row)
        return found

    def child_arguments(self, child: ChildField) -> tuple[PageArgs, tuple[Any, ...]]:
        known = self.plan.memo.get(child)
        if known is not None:
            return known  # type: ignore[no-any-return]
        kwargs = child.arguments.values(self.variables)
        page = PageArgs(
            kwargs.get("first"), kwargs.get("after"), kwargs.get("last"), kwargs.get("before")
        )
        found = (page, child.child.filters(kwargs))
        if child.arguments.constant is not None:
            self.plan.memo[child] = found
        return found

    async def fetch(self, batch: Batch) -> None:
        batch.parents = list(dict.fromkeys(batch.parents))
        child = batch.child
        shape = (child.source, batch.page, batch.filters)
        known = self.plan.memo.get(shape)
        if known is None:
            columns = self.plan.columns[child.source]
            found = child_page(child.child.spec, batch.page, batch.filters, self.secret, columns)
            read = self.read(found.statement, child.source)
            known = (found, read, read.columns.index(found.parent))
            if child.arguments.constant is not None:  # not one entry per value of a variable
                self.plan.memo[shape] = known
        found, read, parent = known
        batch.read, batch.size, batch.backward = read, found.size, found.backward
        batch.rows = await self.reader.rows(read, {PARENTS: batch.parents})
        by_parent: dict[Any, list[Row]] = defaultdict(list)
        for row in batch.rows:
            by_parent[row[parent]].append(row)
        batch.by_parent = by_parent

    # ----------------------------------------------------------------- the answer

    def answer(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for root in self.plan.roots:
            if root.kind == "__typename":
                data[root.key] = "Query"
            elif root.kind == "customers":
                plan, page = root.connection, self.pages[root]
                assert plan is not None
                builders = {id(node): self.projector(node) for node in plan.nodes}
                cursor = self.cursors(page.key, page.read) if plan.cursors else None
                data[root.key] = connection(
                    plan, page.rows, page.has_next, page.has_previous, page.total, builders, cursor
                )
            elif root.kind == "viewer":
                assert root.value is not None
                data[root.key] = root.value.project(viewer(self.reader.key))
            else:
                row = self.found[root]
                assert root.node is not None
                data[root.key] = None if row is None else self.projector(root.node)(row)
        return data

    def projector(self, plan: ObjectPlan) -> Project:
        project = plan.project
        assert project is not None
        if not (plan.children or plan.sides):
            return project
        maps = [self.child_map(child) for child in plan.children]
        maps += [self.sides.get((id(plan), name), {}) for name in plan.sides]
        return partial(project, *maps)

    def cursors(self, key: SortKey, read: CompiledRead) -> Callable[[Row], str]:
        shape, secret = row_type(read.columns), self.secret

        def cursor(row: Row) -> str:
            return key.to_cursor(secret, shape._make(row))

        return cursor

    def child_map(self, child: ChildField) -> dict[Any, dict[str, Any]]:
        """Each parent's answer for this nested connection."""
        batch = self.batches.get(child)
        if batch is None:
            return {}
        assert batch.read is not None
        plan = child.connection
        builders = {id(node): self.projector(node) for node in plan.nodes}
        cursor = self.cursors(child.child.spec.key, batch.read) if plan.cursors else None
        by_parent, size, page, totals = batch.by_parent, batch.size, batch.page, batch.totals
        forward, had_cursor = not batch.backward, page.after is not None
        found: dict[Any, dict[str, Any]] = {}
        if plan.nodes_only is not None and forward:
            key, build = plan.nodes_only, builders[id(plan.nodes[0])]
            for parent in batch.parents:
                rows = by_parent.get(parent, ())
                found[parent] = {key: [build(row) for row in rows[:size]]}
            return found
        for parent in batch.parents:
            rows = by_parent.get(parent, [])
            if forward:
                kept, has_next, has_previous = rows[:size], len(rows) > size, had_cursor
            else:
                kept, has_next, has_previous = cut_page(rows, size, True, page)
            total = None if totals is None else totals.get(parent, 0)
            found[parent] = connection(plan, kept, has_next, has_previous, total, builders, cursor)
        return found


def connection(
    plan: ConnectionPlan,
    rows: Sequence[Row],
    has_next: bool,
    has_previous: bool,
    total: int | None,
    builders: dict[int, Project],
    cursor: Callable[[Row], str] | None,
) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    for key, kind, payload in plan.parts:
        if kind == "nodes":
            build = builders[id(payload)]
            answer[key] = [build(row) for row in rows]
        elif kind == "edges":
            assert cursor is not None or not any(part[1] == "cursor" for part in payload)
            answer[key] = [_edge(payload, row, builders, cursor) for row in rows]
        elif kind == "pageInfo":
            answer[key] = _page_info(payload, rows, has_next, has_previous, cursor)
        elif kind == "totalCount":
            answer[key] = total
        else:
            answer[key] = payload
    return answer


def viewer(key: KeyRow) -> dict[str, Any]:
    """`Query.viewer`'s value, as schema/tenants.py answers it."""
    tenant = {"id": encode_global_id("Tenant", str(key.tenant_id)), "name": key.tenant_name}
    return {"tenant": tenant, "scopes": sorted(key.scopes)}


def _edge(
    parts: list[tuple[str, str, Any]],
    row: Row,
    builders: dict[int, Project],
    cursor: Callable[[Row], str] | None,
) -> dict[str, Any]:
    edge: dict[str, Any] = {}
    for key, kind, payload in parts:
        if kind == "node":
            edge[key] = builders[id(payload)](row)
        elif kind == "cursor":
            assert cursor is not None
            edge[key] = cursor(row)
        else:
            edge[key] = payload
    return edge


def _page_info(
    payload: tuple[str, list[tuple[str, str]]],
    rows: Sequence[Row],
    has_next: bool,
    has_previous: bool,
    cursor: Callable[[Row], str] | None,
) -> dict[str, Any]:
    type_name, fields = payload
    info: dict[str, Any] = {}
    for key, name in fields:
        if name == "hasNextPage":
            info[key] = has_next
        elif name == "hasPreviousPage":
            info[key] = has_previous
        elif name in ("startCursor", "endCursor"):
            assert cursor is not None
            info[key] = (cursor(rows[0] if name == "startCursor" else rows[-1])) if rows else None
        else:
            info[key] = type_name
    return info
