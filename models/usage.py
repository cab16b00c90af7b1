"""Usage events: what customers did, as reported by the tenant, priced by billable metrics.

Transaction ids are unique per tenant, so a retried `ingestUsage` stores nothing twice.
The (tenant, customer, timestamp) index serves every per-customer time range. On
PostgreSQL at billions of rows the table is partitioned by month (README, "Usage events
at scale").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, Json, TenantOwned, utcnow


class UsageEvent(TenantOwned, Base):
    __tablename__ = "usage_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    transaction_id: Mapped[str] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(128))
    timestamp: Mapped[datetime]
    properties: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("uq_usage_events_transaction", "tenant_id", "transaction_id", unique=True),
        Index("ix_usage_events_customer_time", "tenant_id", "customer_id", "timestamp"),
    )
