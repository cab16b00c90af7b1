"""Customers and their ingest aliases, with the partial unique indexes that settle races.

Uniqueness of email, handle, externalId and ingest aliases holds per tenant, among
non-archived customers, case-insensitively: each is a unique index on `lower(value)`
with `WHERE archived_at IS NULL` (aliases carry their customer's `active` flag, since an
index cannot look at another table). A violated index is mapped to a `TAKEN` user error by
its name (`UNIQUE_INDEX_FIELDS`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, Json, TenantOwned, utcnow

ACTIVE_CUSTOMER = text("archived_at IS NULL")


class Customer(TenantOwned, Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    handle: Mapped[str | None] = mapped_column(String(63))
    external_id: Mapped[str | None] = mapped_column(String(255))
    account_type: Mapped[str] = mapped_column(String(16), default="BUSINESS")
    display_name: Mapped[str] = mapped_column(String(160))
    company_name: Mapped[str | None] = mapped_column(String(200))
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    country_code: Mapped[str | None] = mapped_column(String(2))
    currency: Mapped[str | None] = mapped_column(String(3))
    locale: Mapped[str | None] = mapped_column(String(64))
    timezone: Mapped[str | None] = mapped_column(String(64))
    industry: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    runbook: Mapped[str | None] = mapped_column(Text)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    billing_config: Mapped[dict[str, Any] | None] = mapped_column(Json)
    billing_provider_configurations: Mapped[list[Any]] = mapped_column(Json, default=list)
    salesforce_account_id: Mapped[str | None] = mapped_column(String(255))
    leave_stripe_invoices_in_draft: Mapped[bool | None] = mapped_column(Boolean)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    billable_status: Mapped[str] = mapped_column(String(16), default="BILLABLE")
    billable_status_effective_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index(
            "uq_customers_email",
            "tenant_id",
            func.lower(text("email")),
            unique=True,
            sqlite_where=ACTIVE_CUSTOMER,
            postgresql_where=ACTIVE_CUSTOMER,
        ),
        Index(
            "uq_customers_handle",
            "tenant_id",
            func.lower(text("handle")),
            unique=True,
            sqlite_where=ACTIVE_CUSTOMER,
            postgresql_where=ACTIVE_CUSTOMER,
        ),
        Index(
            "uq_customers_external_id",
            "tenant_id",
            func.lower(text("external_id")),
            unique=True,
            sqlite_where=ACTIVE_CUSTOMER,
            postgresql_where=ACTIVE_CUSTOMER,
        ),
        Index("ix_customers_created", "tenant_id", "created_at", "id"),
        Index("ix_customers_updated", "tenant_id", "updated_at", "id"),
        Index("ix_customers_display_name", "tenant_id", "display_name", "id"),
        Index("ix_customers_email_order", "tenant_id", func.coalesce(text("email"), ""), "id"),
        Index("ix_customers_salesforce", "tenant_id", "salesforce_account_id"),
    )


class CustomerIngestAlias(TenantOwned, Base):
    __tablename__ = "customer_ingest_aliases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        Index(
            "uq_customer_ingest_aliases_alias",
            "tenant_id",
            func.lower(text("alias")),
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
        Index("ix_customer_ingest_aliases_customer", "customer_id"),
    )


UNIQUE_INDEX_FIELDS = {
    "uq_customers_email": "email",
    "uq_customers_handle": "handle",
    "uq_customers_external_id": "externalId",
    "uq_customer_ingest_aliases_alias": "ingestAliases",
}
