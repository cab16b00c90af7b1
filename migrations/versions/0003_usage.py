"""Usage events.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from models.base import UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "usage_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column(
            "tenant_id",
            sa.Uuid(),
            sa.ForeignKey(
                "tenants.id", name="fk_usage_events_tenant_id_tenants", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column(
            "customer_id",
            BIG_ID,
            sa.ForeignKey(
                "customers.id", name="fk_usage_events_customer_id_customers", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("transaction_id", sa.String(128), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("timestamp", UtcDateTime(), nullable=False),
        sa.Column("properties", JSON, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_usage_events"),
    )
    op.create_index(
        "uq_usage_events_transaction", "usage_events", ["tenant_id", "transaction_id"], unique=True
    )
    op.create_index(
        "ix_usage_events_customer_time", "usage_events", ["tenant_id", "customer_id", "timestamp"]
    )


def downgrade() -> None:
    op.drop_table("usage_events")
