"""Every per-request DataLoader, held by one `Loaders` object built in `get_context()`.

Loaders answer in key order with None or an empty list for misses; their statements go
through the request's unit of work, so the tenancy guard scopes every batch. Read paths
select columns (rows), never ORM entities.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import cache, cached_property
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy import Select, bindparam, func, select

from models import Customer, CustomerIngestAlias, Instance, PlanCharge, Subscription
from models.db import UnitOfWork
from models.idlists import in_ids
from resolvers.children import ChildCountLoader, ChildPageLoader, ChildSpec
from resolvers.specs import (
    ACTIVE_STATUSES,
    CHARGE_COLUMNS,
    CUSTOMER_COLUMNS,
    CUSTOMER_INSTANCES,
    CUSTOMER_METRICS,
    CUSTOMER_SUBSCRIPTIONS,
    INSTANCE_COLUMNS,
    METRIC_COLUMNS,
    PLAN_COLUMNS,
    SUBSCRIPTION_COLUMNS,
)


class RowByIdLoader(DataLoader[int, Any]):
    """`<Row>ByIdLoader`: rows of one table by primary key. Rows the request already read
    (a page of customers, a mutation's result) are kept in `known` and answer a later load
    without SQL: cheaper than priming DataLoader's cache with a future per row, which a page
    paid whether or not anything loaded it again."""

    def __init__(self, uow: UnitOfWork, columns: tuple[Any, ...]) -> None:
        super().__init__()
        self.uow = uow
        self.columns = columns
        self.known: dict[int, Any] = {}

    def remember(self, rows: Sequence[Any]) -> None:
        """These rows are the current ones: later loads of their ids answer them."""
        for row in rows:
            self.clear(row.id)
            self.known[row.id] = row

    async def batch_load_fn(self, keys: Sequence[int]) -> list[Any]:
        known = self.known
        missing = [key for key in keys if key not in known]
        if missing:
            for row in await self.uow.rows(*rows_by_ids(self.columns, missing)):
                known.setdefault(row.id, row)
        return [known.get(key) for key in keys]


@cache
def by_ids(columns: tuple[Any, ...]) -> Select[Any]:
    """Built once per table and columns, the keys bound per batch (`ids`)."""
    return select(*columns).where(in_ids(columns[0].class_.id, "ids"))


@cache
def by_id(columns: tuple[Any, ...]) -> Select[Any]:
    """`by_ids` for a batch of one key (`id`): PostgreSQL plans `id = $1` once and keeps
    the plan, while it plans `id = ANY($1)` again at every execution (about 55 us)."""
    return select(*columns).where(columns[0].class_.id == bindparam("id"))


def rows_by_ids(
    columns: tuple[Any, ...], keys: Sequence[int]
) -> tuple[Select[Any], dict[str, Any]]:
    """The statement and parameters reading these keys' rows."""
    if len(keys) == 1:
        return by_id(columns), {"id": keys[0]}
    return by_ids(columns), {"ids": list(keys)}


class RowsByParentLoader(DataLoader[int, list[Any]]):
    """All child rows of each parent, in a fixed order (small lists: charges, aliases)."""

    def __init__(self, uow: UnitOfWork, columns: tuple[Any, ...], parent: Any, order: Any) -> None:
        super().__init__()
        self.uow, self.parent = uow, parent
        self.statement = by_parents(columns, parent, order)

    async def batch_load_fn(self, keys: Sequence[int]) -> list[list[Any]]:
        children: dict[int, list[Any]] = defaultdict(list)
        name = self.parent.key
        for row in await self.uow.rows(self.statement, {"parents": list(keys)}):
            children[getattr(row, name)].append(row)
        return [children.get(key, []) for key in keys]


@cache
def by_parents(columns: tuple[Any, ...], parent: Any, order: Any) -> Select[Any]:
    """Every child row of the bound `parents`, by parent then `order`."""
    return select(*columns).where(in_ids(parent, "parents")).order_by(parent, order)


class CustomerStatsByIdLoader(DataLoader[int, Any]):
    """All five per-customer counts for a page of customers in one statement."""

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__()
        self.uow = uow

    async def batch_load_fn(self, keys: Sequence[int]) -> list[Any]:
        found = {row.id: row for row in await self.uow.rows(customer_stats(), {"ids": keys})}
        return [found.get(key) for key in keys]


@cache
def customer_stats() -> Select[Any]:
    """The five counts of each of the bound customers (`ids`), a row each."""
    sub, inst = Subscription, Instance
    mine = sub.customer_id == Customer.id
    return select(
        Customer.id,
        select(func.count(sub.id)).where(mine).scalar_subquery().label("subscriptions"),
        select(func.count(sub.id))
        .where(mine, sub.status.in_(ACTIVE_STATUSES))
        .scalar_subquery()
        .label("active_subscriptions"),
        select(sub.status)
        .where(mine)
        .order_by(sub.started_at.desc(), sub.id.desc())
        .limit(1)
        .scalar_subquery()
        .label("latest_status"),
        select(func.count(inst.id))
        .where(inst.customer_id == Customer.id, inst.status != "TERMINATED")
        .scalar_subquery()
        .label("instances"),
        select(func.count(inst.id))
        .where(inst.customer_id == Customer.id, inst.status == "RUNNING")
        .scalar_subquery()
        .label("running_instances"),
    ).where(in_ids(Customer.id, "ids"))


class Loaders:
    """Built lazily: a request pays only for the loaders its query touches."""

    def __init__(self, uow: UnitOfWork, secret: bytes) -> None:
        self.uow = uow
        self.secret = secret

    @cached_property
    def customer_by_id(self) -> RowByIdLoader:
        return RowByIdLoader(self.uow, CUSTOMER_COLUMNS)

    @cached_property
    def plan_by_id(self) -> RowByIdLoader:
        return RowByIdLoader(self.uow, PLAN_COLUMNS)

    @cached_property
    def subscription_by_id(self) -> RowByIdLoader:
        return RowByIdLoader(self.uow, SUBSCRIPTION_COLUMNS)

    @cached_property
    def instance_by_id(self) -> RowByIdLoader:
        return RowByIdLoader(self.uow, INSTANCE_COLUMNS)

    @cached_property
    def billable_metric_by_id(self) -> RowByIdLoader:
        return RowByIdLoader(self.uow, METRIC_COLUMNS)

    @cached_property
    def ingest_aliases_by_customer_id(self) -> RowsByParentLoader:
        columns = (CustomerIngestAlias.customer_id, CustomerIngestAlias.alias)
        parent = CustomerIngestAlias.customer_id
        return RowsByParentLoader(self.uow, columns, parent, CustomerIngestAlias.id)

    @cached_property
    def charges_by_plan_id(self) -> RowsByParentLoader:
        return RowsByParentLoader(self.uow, CHARGE_COLUMNS, PlanCharge.plan_id, PlanCharge.position)

    @cached_property
    def customer_stats_by_id(self) -> CustomerStatsByIdLoader:
        return CustomerStatsByIdLoader(self.uow)

    def _pages(self, spec: ChildSpec) -> tuple[ChildPageLoader, ChildCountLoader]:
        counts = ChildCountLoader(self.uow, spec)
        return ChildPageLoader(self.uow, spec, self.secret, counts), counts

    @cached_property
    def subscription_page_by_customer_id(self) -> ChildPageLoader:
        return self._pages(CUSTOMER_SUBSCRIPTIONS)[0]

    @cached_property
    def instance_page_by_customer_id(self) -> ChildPageLoader:
        return self._pages(CUSTOMER_INSTANCES)[0]

    @cached_property
    def billable_metric_page_by_customer_id(self) -> ChildPageLoader:
        return self._pages(CUSTOMER_METRICS)[0]

    def prime_customers(self, rows: Sequence[Any]) -> None:
        self.customer_by_id.remember(rows)
