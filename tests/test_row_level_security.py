"""PostgreSQL row-level security, the second lock: the app's own engine, with no ORM guard,
sees only the rows of the tenant its transaction names."""

from __future__ import annotations

import pytest
from conftest import TenantHandle
from helpers import create_customer
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette

SET_TENANT = text("SELECT set_config('app.tenant_id', :tenant, true)")
COUNT = text("SELECT count(*) FROM customers")


async def test_raw_select_sees_only_the_transactions_tenant(
    app: Starlette, backend: str, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    await create_customer(tenant.api, displayName="mine")
    await create_customer(other_tenant.api, displayName="theirs")
    async with app.state.engine.connect() as connection:
        if backend == "postgresql":
            await connection.execute(SET_TENANT, {"tenant": str(tenant.id)})
        mine = (await connection.execute(COUNT)).scalar_one()
        names = (await connection.execute(text("SELECT display_name FROM customers"))).scalars()
        listed = set(names)
        await connection.rollback()
        unset = (await connection.execute(COUNT)).scalar_one()
    if backend == "sqlite":
        # No row-level security in SQLite: the ORM tenancy guard is its only lock.
        assert {"mine", "theirs"} <= listed
        return
    assert mine == 1 and listed == {"mine"}
    assert unset == 0, "no tenant named: no rows"


POSTGRESQL_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@POSTGRESQL_ONLY
async def test_writes_for_another_tenant_are_refused(
    app: Starlette, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    insert = text(
        "INSERT INTO customers (tenant_id, account_type, display_name, custom_fields, "
        "billing_provider_configurations, billable_status, billable_status_effective_at, "
        "version, created_at, updated_at) VALUES (:other, 'BUSINESS', 'x', '{}', '[]', "
        "'BILLABLE', now(), 1, now(), now())"
    )
    async with app.state.engine.connect() as connection:
        await connection.execute(SET_TENANT, {"tenant": str(tenant.id)})
        with pytest.raises(DBAPIError, match="row-level security"):
            await connection.execute(insert, {"other": str(other_tenant.id)})


@POSTGRESQL_ONLY
async def test_app_role_neither_owns_nor_bypasses(app: Starlette) -> None:
    async with app.state.engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT current_user, r.rolsuper, r.rolbypassrls, "
                    "(SELECT tableowner FROM pg_tables WHERE tablename = 'customers') "
                    "FROM pg_roles r WHERE r.rolname = current_user"
                )
            )
        ).one()
    assert row[0] == "customergraph_app"
    assert row[1] is False and row[2] is False
    assert row[3] != "customergraph_app"
