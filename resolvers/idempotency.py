"""Idempotency-Key: a POST sent again with the same key and body within 24 hours gets the
stored response instead of running again; the same key with another body is refused.

The key is claimed with one INSERT on a unique (tenant, key) index, so of two concurrent
requests exactly one runs; the other waits for its response and replays it. A response of
5xx is not kept (the key is released so a retry can run), and a claim left by a crashed
process is released after five minutes.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import IdempotencyRecord
from models.base import utcnow

KEEP = timedelta(hours=24)
STALE = timedelta(minutes=5)
WAIT_SECONDS = 30.0
POLL_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Claim:
    outcome: Literal["run", "replay", "reused", "busy"]
    record_id: int | None = None
    status: int | None = None
    content_type: str | None = None
    body: bytes | None = None


def request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _session(factory: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID) -> AsyncSession:
    return factory(info={"tenant_id": tenant_id})


async def _writer(session: AsyncSession) -> str:
    connection = await session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    return connection.dialect.name


async def _try_claim(
    factory: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID, key: str, digest: str
) -> Claim | None:
    record = IdempotencyRecord
    async with _session(factory, tenant_id) as session:
        dialect = await _writer(session)
        row = (
            await session.execute(
                select(record.id, record.request_hash, record.status, record.content_type)
                .add_columns(record.body, record.created_at)
                .where(record.key == key)
            )
        ).first()
        now = utcnow()
        if row is not None:
            expired = row.created_at < now - KEEP
            abandoned = row.status is None and row.created_at < now - STALE
            if not (expired or abandoned):
                await session.rollback()
                if row.request_hash != digest:
                    return Claim("reused")
                if row.status is None:
                    return None  # running elsewhere: wait for it
                return Claim("replay", row.id, row.status, row.content_type, row.body)
            await session.execute(delete(record).where(record.id == row.id))
        insert = (postgresql if dialect == "postgresql" else sqlite).insert(record.__table__)
        claimed = await session.execute(
            insert.values(tenant_id=tenant_id, key=key, request_hash=digest, created_at=now)
            .on_conflict_do_nothing(index_elements=["tenant_id", "key"])
            .returning(record.__table__.c.id)
        )
        record_id = claimed.scalar_one_or_none()
        await session.commit()
    return None if record_id is None else Claim("run", record_id)


async def claim(
    factory: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID, key: str, body: bytes
) -> Claim:
    """Run it, replay a stored response, or refuse (another body, or still running)."""
    digest = request_hash(body)
    for _ in range(int(WAIT_SECONDS / POLL_SECONDS)):
        found = await _try_claim(factory, tenant_id, key, digest)
        if found is not None:
            return found
        await asyncio.sleep(POLL_SECONDS)
    return Claim("busy")


async def finish(
    factory: async_sessionmaker[AsyncSession],
    tenant_id: uuid.UUID,
    claimed: Claim,
    status: int,
    content_type: str | None,
    body: bytes,
) -> None:
    """Keep the response for replays; release the key after a server error."""
    record = IdempotencyRecord
    async with _session(factory, tenant_id) as session:
        await _writer(session)
        where = record.id == claimed.record_id
        if status >= 500:
            await session.execute(delete(record).where(where))
        else:
            values = {"status": status, "content_type": content_type, "body": body}
            await session.execute(update(record).where(where).values(**values))
        await session.commit()
