"""Plans with their charges, and customers' subscriptions to them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Dialect, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from models.base import Base, BigId, TenantOwned, utcnow


class Money(TypeDecorator[Decimal]):
    """Exact money: NUMERIC(38, 12) on PostgreSQL; text on SQLite, whose NUMERIC is a float."""

    impl = Numeric(38, 12)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric(38, 12, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return format(value, "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class Plan(TenantOwned, Base):
    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_plans_created", "tenant_id", "created_at", "id"),)


class PlanCharge(TenantOwned, Base):
    __tablename__ = "plan_charges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    billable_metric_id: Mapped[int] = mapped_column(ForeignKey("billable_metrics.id"))
    unit_price: Mapped[Decimal] = mapped_column(Money())
    credit_type: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_plan_charges_plan", "plan_id", "position"),
        Index("ix_plan_charges_metric", "billable_metric_id"),
    )


class Subscription(TenantOwned, Base):
    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    ends_at: Mapped[datetime | None] = mapped_column(default=None)
    canceled_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_subscriptions_customer_started", "customer_id", "started_at", "id"),
        Index("ix_subscriptions_customer_status", "customer_id", "status"),
        Index("ix_subscriptions_plan", "plan_id"),
    )
