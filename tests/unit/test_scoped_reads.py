"""`models.tenancy.scoped`: the guard's criterion on every tenant-owned table a read names,
inside subqueries and joins too, added once per statement object. On SQLite it is the only
lock of a read (tests/test_tenancy.py checks the API); here, the SQL itself."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from models import Customer, Plan, Subscription
from models.tenancy import GUARD_TENANT, scoped
from resolvers.children import child_page
from resolvers.loaders import by_ids
from resolvers.pagination import PageArgs
from resolvers.specs import CUSTOMER_COLUMNS, CUSTOMER_SUBSCRIPTIONS


def test_a_read_by_ids_is_scoped_once_and_kept() -> None:
    statement = by_ids(CUSTOMER_COLUMNS)
    assert scoped(statement) is scoped(statement)
    dialect = postgresql.dialect(paramstyle="named")  # type: ignore[no-untyped-call]
    sql = str(scoped(statement).compile(dialect=dialect))
    assert f"customers.tenant_id = :{GUARD_TENANT}" in sql


def test_the_criterion_reaches_subqueries_and_joins() -> None:
    ranked = child_page(CUSTOMER_SUBSCRIPTIONS, PageArgs(first=10), (None,), b"secret").statement
    joined = (
        select(Subscription.id, Plan.name, func.count(Customer.id))
        .join(Plan, Plan.id == Subscription.plan_id)
        .join(Customer, Customer.id == Subscription.customer_id)
        .group_by(Subscription.id, Plan.name)
    )
    dialects: list[Dialect] = [
        sqlite.dialect(paramstyle="named"),
        postgresql.dialect(paramstyle="named"),  # type: ignore[no-untyped-call]
    ]
    for dialect in dialects:
        sql = str(scoped(ranked).compile(dialect=dialect))
        inner = sql[sql.index("(") : sql.rindex(")")]
        assert re.search(rf"subscriptions\.tenant_id = :{GUARD_TENANT}", inner), sql
        sql = str(scoped(joined).compile(dialect=dialect))
        for table in ("subscriptions", "plans", "customers"):
            assert re.search(rf"{table}\.tenant_id = :{GUARD_TENANT}", sql), (table, sql)
