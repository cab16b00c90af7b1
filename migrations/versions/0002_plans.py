"""Billable metrics, plans and their charges, subscriptions, instances.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 01:53:58.166899
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from models.base import UtcDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Exact money: text on SQLite, whose NUMERIC affinity would turn it into a float.
MONEY = sa.Numeric(38, 12).with_variant(sa.String(64), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "billable_metrics",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("aggregation_type", sa.String(length=16), nullable=False),
        sa.Column("aggregation_key", sa.String(length=200), nullable=True),
        sa.Column("event_type_filter", JSON, nullable=True),
        sa.Column("property_filters", JSON, nullable=False),
        sa.Column("group_keys", JSON, nullable=False),
        sa.Column("custom_fields", JSON, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("archived_at", UtcDateTime(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_billable_metrics_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billable_metrics")),
    )
    op.create_index(
        "ix_billable_metrics_created", "billable_metrics", ["tenant_id", "created_at", "id"]
    )

    op.create_table(
        "plans",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("archived_at", UtcDateTime(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_plans_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
    )
    op.create_index("ix_plans_created", "plans", ["tenant_id", "created_at", "id"])

    op.create_table(
        "plan_charges",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("plan_id", BIG_ID, nullable=False),
        sa.Column("billable_metric_id", BIG_ID, nullable=False),
        sa.Column("unit_price", MONEY, nullable=False),
        sa.Column("credit_type", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["billable_metric_id"],
            ["billable_metrics.id"],
            name=op.f("fk_plan_charges_billable_metric_id_billable_metrics"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_plan_charges_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_plan_charges_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_charges")),
    )
    op.create_index("ix_plan_charges_metric", "plan_charges", ["billable_metric_id"])
    op.create_index("ix_plan_charges_plan", "plan_charges", ["plan_id", "position"])

    op.create_table(
        "subscriptions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.Column("plan_id", BIG_ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("ends_at", UtcDateTime(), nullable=True),
        sa.Column("canceled_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_subscriptions_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_subscriptions_plan_id_plans")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_subscriptions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    op.create_index(
        "ix_subscriptions_customer_started", "subscriptions", ["customer_id", "started_at", "id"]
    )
    op.create_index("ix_subscriptions_customer_status", "subscriptions", ["customer_id", "status"])
    op.create_index("ix_subscriptions_plan", "subscriptions", ["plan_id"])

    op.create_table(
        "instances",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.Column("subscription_id", BIG_ID, nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_instances_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_instances_subscription_id_subscriptions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_instances_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instances")),
    )
    op.create_index(
        "ix_instances_customer_created", "instances", ["customer_id", "created_at", "id"]
    )
    op.create_index("ix_instances_customer_status", "instances", ["customer_id", "status"])
    op.create_index("ix_instances_subscription", "instances", ["subscription_id"])


def downgrade() -> None:
    op.drop_table("instances")
    op.drop_table("subscriptions")
    op.drop_table("plan_charges")
    op.drop_table("plans")
    op.drop_table("billable_metrics")
