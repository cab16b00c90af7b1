"""Timestamps read back as aware UTC datetimes on both databases, whatever the session's
time zone: on PostgreSQL asyncpg does it (models.base.UtcDateTime skips its per-value
call there), on SQLite UtcDateTime adds UTC to the stored naive text."""

from __future__ import annotations

from datetime import UTC

from conftest import TenantHandle
from helpers import create_customer
from sqlalchemy import select, text
from starlette.applications import Starlette

from models import Customer


async def test_timestamps_come_back_aware_and_utc(
    app: Starlette, backend: str, tenant: TenantHandle
) -> None:
    created = await create_customer(tenant.api, displayName="Zoned")
    async with app.state.engine.connect() as connection:
        if backend == "postgresql":
            await connection.execute(text("SET LOCAL TIME ZONE 'America/New_York'"))
            await connection.execute(
                text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant.id)}
            )
        moments = (
            await connection.execute(
                select(Customer.created_at, Customer.updated_at).where(
                    Customer.tenant_id == tenant.id, Customer.display_name == "Zoned"
                )
            )
        ).one()
        await connection.rollback()
    for moment in moments:
        assert moment.tzinfo is UTC, moment
    assert moments[0].isoformat().replace("+00:00", "Z") == created["createdAt"]
