"""The direct reads' connections (models/reads.py): every checkout starts with the key
lookup, which on PostgreSQL names the connection's tenant for row-level security, or no
tenant for an unknown key; a statement that did not end closes its connection; waiters
are served in turn and time out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from conftest import TenantHandle
from helpers import create_customer
from sqlalchemy import func, select
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.applications import Starlette

from models import Customer
from models.compiled import compile_read
from models.db import postgres_connect_args
from models.reads import PostgresReads, ReadPool, make_reads
from resolvers.auth import hash_key

POSTGRESQL_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
# No guard criterion: what the database itself lets the connection see.
EVERY_CUSTOMER = select(func.count()).select_from(Customer.__table__)


@pytest.fixture
async def one_connection(app: Starlette) -> AsyncIterator[ReadPool]:
    """A pool of one connection on the app's database, as the app's role."""
    reads = make_reads(
        app.state.engine,
        pool_size=1,
        pool_timeout=0.2,
        connect_options=postgres_connect_args(0, "customergraph_app"),
    )
    yield reads
    await reads.close()


async def _visible(reads: ReadPool, key: str) -> int:
    async with reads.session(hash_key(key)) as reader:
        assert reader is not None
        read = compile_read(EVERY_CUSTOMER, reads.dialect, guarded=False)
        return int((await reader.rows(read))[0][0])


async def test_each_checkout_sees_its_keys_tenant_alone(
    one_connection: ReadPool, backend: str, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    await create_customer(tenant.api, displayName="mine")
    for name in ("theirs", "theirs too"):
        await create_customer(other_tenant.api, displayName=name)
    for _ in range(2):  # one connection, the tenants taking turns on it
        mine, theirs = (
            await _visible(one_connection, tenant.key),
            await _visible(one_connection, other_tenant.key),
        )
        if backend == "postgresql":
            assert (mine, theirs) == (1, 2)
        else:  # no row-level security: the guard's criterion is SQLite's only lock
            assert mine == theirs >= 3


@POSTGRESQL_ONLY
async def test_an_unknown_key_leaves_the_connection_without_a_tenant(
    one_connection: ReadPool, tenant: TenantHandle
) -> None:
    assert isinstance(one_connection, PostgresReads)
    await _visible(one_connection, tenant.key)
    async with one_connection.session(hash_key("cg_00000000_unknown")) as reader:
        assert reader is None
    (pooled,) = one_connection._idle
    setting = await pooled.connection.fetchval("SELECT current_setting('app.tenant_id', true)")
    assert setting == ""
    assert await pooled.connection.fetchval("SELECT count(*) FROM customers") == 0


@POSTGRESQL_ONLY
async def test_a_statement_cancelled_midway_closes_its_connection(
    one_connection: ReadPool, tenant: TenantHandle
) -> None:
    assert isinstance(one_connection, PostgresReads)
    sleep = compile_read(select(func.pg_sleep(5)), one_connection.dialect, guarded=False)

    async def slow() -> None:
        async with one_connection.session(hash_key(tenant.key)) as reader:
            assert reader is not None
            await reader.rows(sleep)

    task = asyncio.create_task(slow())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert one_connection._idle == [], "a connection mid-statement is not kept"
    assert await _visible(one_connection, tenant.key) >= 0  # the slot came back


@POSTGRESQL_ONLY
async def test_waiters_beyond_the_pool_time_out(
    one_connection: ReadPool, tenant: TenantHandle
) -> None:
    async with one_connection.session(hash_key(tenant.key)) as held:
        assert held is not None
        started = asyncio.get_running_loop().time()
        with pytest.raises(PoolTimeout):
            async with one_connection.session(hash_key(tenant.key)):
                pass
        assert asyncio.get_running_loop().time() - started < 1
    assert await _visible(one_connection, tenant.key) >= 0
