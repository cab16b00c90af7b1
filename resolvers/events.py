"""Live customer events (API.md, Real-time): the outbox write, the bus, the SSE stream.

Every customer change writes a `customer_events` row in its own transaction (`record`),
so an acknowledged change always has its event and a rolled-back one never does. GET
/events streams a tenant's rows after `Last-Event-ID`. Readers wake on a bus: PostgreSQL
LISTEN/NOTIFY across processes (the NOTIFY is sent by the writing transaction, so it is
delivered on commit only), in-process wake-ups otherwise, and a short poll as a backstop.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.errors import BadUserInput
from domain.ids import decode_int_id, encode_global_id
from models import Customer, CustomerEvent
from resolvers.auth import Principal

log = logging.getLogger("customergraph.events")
CHANNEL = "customer_events"
BATCH = 500
POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0
LOCK_AND_NOTIFY = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(:tenant, 0)), pg_notify(:channel, :tenant)"
)


async def record(session: AsyncSession, customer: Customer, kind: str) -> None:
    """The outbox row of one change, in the change's transaction.

    On PostgreSQL writers of one tenant take a transaction lock first, so event ids grow in
    commit order and a reader resuming after id N can not miss a later-committed lower id.
    """
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        tenant = str(customer.tenant_id)
        await session.execute(LOCK_AND_NOTIFY, {"tenant": tenant, "channel": CHANNEL})
    session.add(
        CustomerEvent(
            tenant_id=customer.tenant_id,
            customer_id=customer.id,
            type=kind,
            version=customer.version,
            occurred_at=customer.updated_at,
        )
    )


class EventBus:
    """Wakes the streams of a tenant when its events may have changed."""

    def __init__(self) -> None:
        self._waiters: dict[uuid.UUID, set[asyncio.Event]] = defaultdict(set)
        self._listener: Any = None

    def wake(self, tenant_id: uuid.UUID | str) -> None:
        key = tenant_id if isinstance(tenant_id, uuid.UUID) else uuid.UUID(tenant_id)
        for waiter in self._waiters.get(key, ()):
            waiter.set()

    async def wait(self, tenant_id: uuid.UUID, seconds: float) -> None:
        waiter = asyncio.Event()
        self._waiters[tenant_id].add(waiter)
        try:
            await asyncio.wait_for(waiter.wait(), seconds)
        except TimeoutError:
            pass
        finally:
            self._waiters[tenant_id].discard(waiter)
            if not self._waiters[tenant_id]:
                del self._waiters[tenant_id]

    async def listen(self, database_url: str) -> None:
        """LISTEN on PostgreSQL so changes made by other processes wake this one's streams."""
        if not database_url.startswith("postgresql"):
            return
        url = database_url.replace("postgresql+asyncpg://", "postgresql://")
        try:
            self._listener = await asyncpg.connect(url, timeout=5)
            await self._listener.add_listener(CHANNEL, self._notified)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            log.warning("LISTEN unavailable; event streams fall back to polling", exc_info=True)

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self.wake(payload)

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()


def customer_filter(global_id: str | None) -> int | None:
    """`?customerId=`: one customer's events only (BAD_USER_INPUT when malformed)."""
    if global_id is None:
        return None
    key = decode_int_id(global_id, "Customer")
    if key is None:
        raise BadUserInput("customerId is not a Customer ID", argument="customerId")
    return key


def resume_after(last_event_id: str | None) -> int | None:
    """The id a reconnecting client saw last (`Last-Event-ID`), or None to start from now."""
    if last_event_id is None or not last_event_id.strip():
        return None
    value = last_event_id.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise BadUserInput("Last-Event-ID must be an event id", argument="Last-Event-ID")
    return int(value)


def _event(row: Any) -> bytes:
    data = {
        "customerId": encode_global_id("Customer", row.customer_id),
        "type": row.type,
        "version": row.version,
        "occurredAt": row.occurred_at.isoformat().replace("+00:00", "Z"),
    }
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (row.id, row.type.encode(), orjson.dumps(data))


async def latest_id(factory: async_sessionmaker[AsyncSession], principal: Principal) -> int:
    async with factory(info={"tenant_id": principal.tenant_id}) as session:
        newest = await session.scalar(
            select(CustomerEvent.id).order_by(CustomerEvent.id.desc()).limit(1)
        )
    return int(newest or 0)


async def stream(
    factory: async_sessionmaker[AsyncSession],
    bus: EventBus,
    principal: Principal,
    after: int,
    customer_id: int | None,
) -> AsyncIterator[bytes]:
    """Every event of the tenant after `after`, then live ones, with keep-alive comments.

    A failure ends the stream (the client reconnects with Last-Event-ID) and is logged."""
    yield b"retry: 1000\n\n"
    try:
        async for chunk in _follow(factory, bus, principal, after, customer_id):
            yield chunk
    except Exception:
        log.exception("event stream failed")


async def _follow(
    factory: async_sessionmaker[AsyncSession],
    bus: EventBus,
    principal: Principal,
    after: int,
    customer_id: int | None,
) -> AsyncIterator[bytes]:
    idle = 0.0
    while True:
        e = CustomerEvent
        statement = (
            select(e.id, e.customer_id, e.type, e.version, e.occurred_at)
            .where(e.id > after)
            .order_by(e.id)
            .limit(BATCH)
        )
        if customer_id is not None:
            statement = statement.where(e.customer_id == customer_id)
        async with factory(info={"tenant_id": principal.tenant_id}) as session:
            rows = (await session.execute(statement)).all()
        for row in rows:
            yield _event(row)
            after = row.id
        if len(rows) == BATCH:
            continue
        if idle >= KEEPALIVE_SECONDS:
            yield b": keep-alive\n\n"
            idle = 0.0
        await bus.wait(principal.tenant_id, POLL_SECONDS)
        idle += POLL_SECONDS
