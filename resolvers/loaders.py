"""Every per-request DataLoader, held by one `Loaders` object built in `get_context()`.

Loaders answer in key order with None or an empty list for misses; their statements go
through the request's unit of work, so the tenancy guard scopes every batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy import Row, select

from models import Customer, CustomerIngestAlias
from models.db import UnitOfWork

CUSTOMER_COLUMNS = tuple(getattr(Customer, column.key) for column in Customer.__table__.columns)


class CustomerByIdLoader(DataLoader[int, Any]):
    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__()
        self.uow = uow

    async def batch_load_fn(self, keys: Sequence[int]) -> list[Any]:
        result = await self.uow.execute(select(*CUSTOMER_COLUMNS).where(Customer.id.in_(keys)))
        found = {row.id: row for row in result}
        return [found.get(key) for key in keys]


class IngestAliasesByCustomerIdLoader(DataLoader[int, list[str]]):
    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__()
        self.uow = uow

    async def batch_load_fn(self, keys: Sequence[int]) -> list[list[str]]:
        statement = (
            select(CustomerIngestAlias.customer_id, CustomerIngestAlias.alias)
            .where(CustomerIngestAlias.customer_id.in_(keys))
            .order_by(CustomerIngestAlias.customer_id, CustomerIngestAlias.id)
        )
        aliases: dict[int, list[str]] = defaultdict(list)
        for row in await self.uow.execute(statement):
            aliases[row.customer_id].append(row.alias)
        return [aliases.get(key, []) for key in keys]


class Loaders:
    """Built lazily: a request pays only for the loaders its query touches."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    @cached_property
    def customer_by_id(self) -> CustomerByIdLoader:
        return CustomerByIdLoader(self.uow)

    @cached_property
    def ingest_aliases_by_customer_id(self) -> IngestAliasesByCustomerIdLoader:
        return IngestAliasesByCustomerIdLoader(self.uow)

    def prime_customers(self, rows: Sequence[Row[Any]]) -> None:
        loader = self.customer_by_id
        for row in rows:
            loader.prime(row.id, row)
