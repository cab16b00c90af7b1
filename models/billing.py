"""Billable metrics: which usage events count, and how they aggregate."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, Json, TenantOwned, utcnow


class BillableMetric(TenantOwned, Base):
    __tablename__ = "billable_metrics"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    aggregation_type: Mapped[str] = mapped_column(String(16))
    aggregation_key: Mapped[str | None] = mapped_column(String(200))
    event_type_filter: Mapped[dict[str, Any] | None] = mapped_column(Json)
    property_filters: Mapped[list[Any]] = mapped_column(Json, default=list)
    group_keys: Mapped[list[Any]] = mapped_column(Json, default=list)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_billable_metrics_created", "tenant_id", "created_at", "id"),)
