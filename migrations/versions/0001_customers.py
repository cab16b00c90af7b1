"""Tenants, API keys, customers and ingest aliases.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from models.base import UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ACTIVE_CUSTOMER = sa.text("archived_at IS NULL")


def _tenant_id(table: str) -> sa.Column[object]:
    return sa.Column(
        "tenant_id",
        sa.Uuid(),
        sa.ForeignKey("tenants.id", name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"),
        nullable=False,
    )


def _unique_lower(name: str, table: str, column: str, where: sa.TextClause) -> None:
    op.create_index(
        name,
        table,
        ["tenant_id", sa.text(f"lower({column})")],
        unique=True,
        sqlite_where=where,
        postgresql_where=where,
    )


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("name", name="uq_tenants_name"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        _tenant_id("api_keys"),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_table(
        "customers",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        _tenant_id("customers"),
        sa.Column("handle", sa.String(63)),
        sa.Column("external_id", sa.String(255)),
        sa.Column("account_type", sa.String(16), nullable=False),
        sa.Column("display_name", sa.String(160), nullable=False),
        sa.Column("company_name", sa.String(200)),
        sa.Column("first_name", sa.String(200)),
        sa.Column("last_name", sa.String(200)),
        sa.Column("email", sa.String(320)),
        sa.Column("phone", sa.String(64)),
        sa.Column("country_code", sa.String(2)),
        sa.Column("currency", sa.String(3)),
        sa.Column("locale", sa.String(64)),
        sa.Column("timezone", sa.String(64)),
        sa.Column("industry", sa.String(200)),
        sa.Column("description", sa.Text()),
        sa.Column("runbook", sa.Text()),
        sa.Column("custom_fields", JSON, nullable=False),
        sa.Column("billing_config", JSON),
        sa.Column("billing_provider_configurations", JSON, nullable=False),
        sa.Column("salesforce_account_id", sa.String(255)),
        sa.Column("leave_stripe_invoices_in_draft", sa.Boolean()),
        sa.Column("stripe_customer_id", sa.String(255)),
        sa.Column("billable_status", sa.String(16), nullable=False),
        sa.Column("billable_status_effective_at", UtcDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("archived_at", UtcDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
    )
    _unique_lower("uq_customers_email", "customers", "email", ACTIVE_CUSTOMER)
    _unique_lower("uq_customers_handle", "customers", "handle", ACTIVE_CUSTOMER)
    _unique_lower("uq_customers_external_id", "customers", "external_id", ACTIVE_CUSTOMER)
    op.create_index("ix_customers_created", "customers", ["tenant_id", "created_at", "id"])
    op.create_index("ix_customers_updated", "customers", ["tenant_id", "updated_at", "id"])
    op.create_index("ix_customers_display_name", "customers", ["tenant_id", "display_name", "id"])
    op.create_index(
        "ix_customers_email_order", "customers", ["tenant_id", sa.text("coalesce(email, '')"), "id"]
    )
    op.create_index("ix_customers_salesforce", "customers", ["tenant_id", "salesforce_account_id"])

    op.create_table(
        "customer_ingest_aliases",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        _tenant_id("customer_ingest_aliases"),
        sa.Column(
            "customer_id",
            BIG_ID,
            sa.ForeignKey(
                "customers.id",
                name="fk_customer_ingest_aliases_customer_id_customers",
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column("alias", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customer_ingest_aliases"),
    )
    _unique_lower(
        "uq_customer_ingest_aliases_alias", "customer_ingest_aliases", "alias", sa.text("active")
    )
    op.create_index(
        "ix_customer_ingest_aliases_customer", "customer_ingest_aliases", ["customer_id"]
    )


def downgrade() -> None:
    op.drop_table("customer_ingest_aliases")
    op.drop_table("customers")
    op.drop_table("api_keys")
    op.drop_table("tenants")
