"""PostgreSQL row-level security: the second lock on the door.

The server connects with the role `customergraph_app`, which neither owns the tables nor
bypasses RLS; every tenant table lets it see and write only rows whose tenant_id equals the
transaction's `app.tenant_id` setting. API keys are looked up, before any tenant is known,
through one SECURITY DEFINER function. Migrations and the CLI run as the owner. No-op on
SQLite.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "customergraph_app"
TENANT_TABLES = (
    "api_keys",
    "customers",
    "customer_ingest_aliases",
    "billable_metrics",
    "plans",
    "plan_charges",
    "subscriptions",
    "instances",
    "usage_events",
    "customer_events",
    "idempotency_keys",
)
TENANT = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') "
        f"THEN CREATE ROLE {ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$"
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {ROLE}")
    op.execute(f"GRANT SELECT ON tenants TO {ROLE}")
    for table in TENANT_TABLES:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {ROLE}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        policy = f"CREATE POLICY tenant_isolation ON {table} TO {ROLE}"
        op.execute(f"{policy} USING ({TENANT}) WITH CHECK ({TENANT})")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {ROLE}")
    op.execute(
        """
        CREATE FUNCTION customergraph_principal(candidate text)
        RETURNS TABLE (id bigint, scopes jsonb, tenant_id uuid, name varchar)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT api_keys.id, api_keys.scopes, tenants.id, tenants.name
            FROM api_keys JOIN tenants ON tenants.id = api_keys.tenant_id
            WHERE api_keys.key_hash = candidate AND api_keys.revoked_at IS NULL
        $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION customergraph_principal(text) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION customergraph_principal(text) TO {ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION customergraph_principal(text)")
    for table in TENANT_TABLES:
        op.execute(f"DROP POLICY tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute(f"REVOKE ALL ON {table} FROM {ROLE}")
    op.execute(f"REVOKE ALL ON tenants FROM {ROLE}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {ROLE}")
