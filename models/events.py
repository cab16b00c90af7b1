"""The customer event outbox: one row per acknowledged change, written in its transaction.

Ids are monotonic in commit order per tenant (writers serialise on a per-tenant
transaction lock on PostgreSQL and on the database lock on SQLite), so a reader resuming
after id N misses nothing. GET /events serves them; nothing deletes them (see the README
for pruning rows older than the resume window).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TenantOwned, utcnow


class CustomerEvent(TenantOwned, Base):
    __tablename__ = "customer_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(16))
    version: Mapped[int]
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_customer_events_tenant", "tenant_id", "id"),
        Index("ix_customer_events_occurred", "occurred_at"),
    )
