"""A deterministic benchmark dataset, bulk-inserted into a freshly migrated database.

    python -m bench.dataset --database-url URL --customers 10000

Tenants of 1,000 customers each; per tenant 20 billable metrics and 3 plans charging some
of them; per customer 5 subscriptions and 5 instances; every 50th customer archived. The
same seed gives the same rows (primary keys included); only the API key is random. It
migrates the database first, inserts with SQLAlchemy Core `insert()` executemany in chunks,
creates an API key for the first tenant, prints it (last line) and writes the tenant id, key
and a sample customer id to a JSON file under bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.common import RESULTS
from bench.databases import migrate
from domain.ids import encode_global_id
from models import (
    ApiKey,
    BillableMetric,
    Customer,
    Instance,
    Plan,
    PlanCharge,
    Subscription,
    Tenant,
)
from models.db import make_engine
from resolvers.auth import ALL_SCOPES, hash_key, new_key
from settings import async_database_url

SEED = 20_241_123
CUSTOMERS_PER_TENANT = 1_000
METRICS_PER_TENANT = 20
PLANS_PER_TENANT = 3
SUBSCRIPTIONS_PER_CUSTOMER = 5
INSTANCES_PER_CUSTOMER = 5
ARCHIVE_EVERY = 50
CHUNK = 2_000
BASE_TIME = datetime(2022, 1, 1, tzinfo=UTC)
TWO_YEARS = 2 * 365 * 24 * 3600
SAMPLE_CUSTOMER = 123  # q3 asks for this (active) customer of the first tenant (1-based)

WORDS = ("Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Tyrell", "Wonka")
NOUNS = ("Systems", "Labs", "Foods", "Logistics", "Robotics", "Media", "Health", "Analytics")
SUFFIXES = ("Inc", "GmbH", "Ltd", "LLC", "SA", "BV", "KK", "Pty")
CODES = ("US", "DE", "FR", "GB", "JP", "BR", "IN", "CA", "AU", "NL")
COUNTRIES = tuple(
    zip(CODES, ("USD", "EUR", "EUR", "GBP", "JPY", "BRL", "INR", "CAD", "AUD", "EUR"), strict=True)
)
TIMEZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Europe/London")
INDUSTRIES = ("Software", "Retail", "Finance", "Manufacturing", "Healthcare", None)
SUBSCRIPTION_STATUSES = ("ACTIVE", "ACTIVE", "ACTIVE", "TRIALING", "CANCELED", "PAST_DUE")
INSTANCE_STATUSES = ("RUNNING", "RUNNING", "RUNNING", "STOPPED", "PROVISIONING", "TERMINATED")
REGIONS = ("us-east-1", "us-west-2", "eu-central-1", "eu-west-1", "ap-northeast-1", None)
AGGREGATIONS = ("COUNT", "SUM", "MAX", "LATEST", "UNIQUE")

Row = dict[str, Any]


@dataclass(slots=True)
class NextIds:
    """The next primary key of each table: keys are given, so they are deterministic too."""

    metric: int = 1
    plan: int = 1
    charge: int = 1
    customer: int = 1
    subscription: int = 1
    instance: int = 1


@dataclass(slots=True)
class TenantRows:
    """One tenant's rows, table by table, in insertion (foreign key) order."""

    tenant: Row
    tables: list[tuple[Table, list[Row]]] = field(default_factory=list)


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _metrics(tenant_id: uuid.UUID, ids: NextIds) -> list[Row]:
    rows = []
    for number in range(METRICS_PER_TENANT):
        aggregation = AGGREGATIONS[number % len(AGGREGATIONS)]
        rows.append(
            {
                "id": ids.metric,
                "tenant_id": tenant_id,
                "name": f"metric-{number:02d}",
                "aggregation_type": aggregation,
                "aggregation_key": None if aggregation == "COUNT" else "quantity",
                "event_type_filter": {"inValues": [f"event_{number:02d}"]},
                "property_filters": [],
                "group_keys": [["region"]] if number % 4 == 0 else [],
                "custom_fields": {},
                "created_at": BASE_TIME + timedelta(hours=number),
                "archived_at": None,
            }
        )
        ids.metric += 1
    return rows


def _plans(
    rng: random.Random, tenant_id: uuid.UUID, ids: NextIds, metrics: list[Row]
) -> tuple[list[Row], list[Row]]:
    plans: list[Row] = []
    charges: list[Row] = []
    for number in range(PLANS_PER_TENANT):
        plan_id = ids.plan
        ids.plan += 1
        plans.append(
            {
                "id": plan_id,
                "tenant_id": tenant_id,
                "name": ("Starter", "Growth", "Enterprise")[number % 3],
                "description": None,
                "created_at": BASE_TIME + timedelta(days=1, hours=number),
                "archived_at": None,
            }
        )
        charged = rng.sample(metrics, 4 + 2 * number)  # 4, 6 and 8 of the 20 metrics
        for position, metric in enumerate(charged):
            charges.append(
                {
                    "id": ids.charge,
                    "tenant_id": tenant_id,
                    "plan_id": plan_id,
                    "billable_metric_id": metric["id"],
                    "unit_price": Decimal(rng.randrange(1, 10_000)) / 1000,
                    "credit_type": "USD",
                    "position": position,
                }
            )
            ids.charge += 1
    return plans, charges


def _customer(rng: random.Random, tenant: int, number: int, tenant_id: uuid.UUID, pk: int) -> Row:
    """Customer `number` (1-based) of tenant `tenant`; every 50th is archived."""
    name = f"{rng.choice(WORDS)} {rng.choice(NOUNS)} {rng.choice(SUFFIXES)}"
    country, currency = rng.choice(COUNTRIES)
    created = BASE_TIME + timedelta(seconds=rng.randrange(TWO_YEARS))
    updated = created + timedelta(seconds=rng.randrange(30 * 24 * 3600))
    slug = name.split()[0].lower()
    return {
        "id": pk,
        "tenant_id": tenant_id,
        "handle": f"{slug}-{tenant}-{number}",
        "external_id": f"ext-{tenant}-{number:06d}",
        "account_type": "BUSINESS",
        "display_name": name,
        "company_name": name,
        "first_name": None,
        "last_name": None,
        "email": f"billing+{number}@{slug}-{tenant}.example.com",
        "phone": None,
        "country_code": country,
        "currency": currency,
        "locale": "en-US",
        "timezone": rng.choice(TIMEZONES),
        "industry": rng.choice(INDUSTRIES),
        "description": None,
        "runbook": None,
        "custom_fields": {"tier": rng.choice(("gold", "silver", "bronze"))},
        "billing_config": None,
        "billing_provider_configurations": [],
        "salesforce_account_id": f"001{tenant:02d}{number:010d}",
        "leave_stripe_invoices_in_draft": None,
        "stripe_customer_id": f"cus_{tenant}x{number}",
        "billable_status": "BILLABLE",
        "billable_status_effective_at": created,
        "version": rng.randrange(1, 6),
        "created_at": created,
        "updated_at": updated,
        "archived_at": updated if number % ARCHIVE_EVERY == 0 else None,
    }


def _children(
    rng: random.Random, customer: Row, plans: list[Row], ids: NextIds
) -> tuple[list[Row], list[Row]]:
    subscriptions, instances = [], []
    created: datetime = customer["created_at"]
    for number in range(SUBSCRIPTIONS_PER_CUSTOMER):
        status = rng.choice(SUBSCRIPTION_STATUSES)
        started = created + timedelta(days=30 * number, seconds=rng.randrange(86_400))
        subscriptions.append(
            {
                "id": ids.subscription,
                "tenant_id": customer["tenant_id"],
                "customer_id": customer["id"],
                "plan_id": rng.choice(plans)["id"],
                "status": status,
                "started_at": started,
                "ends_at": None,
                "canceled_at": started + timedelta(days=10) if status == "CANCELED" else None,
                "created_at": started,
                "updated_at": started,
            }
        )
        ids.subscription += 1
    for number in range(INSTANCES_PER_CUSTOMER):
        region = rng.choice(REGIONS)
        at = created + timedelta(days=7 * number, seconds=rng.randrange(86_400))
        instances.append(
            {
                "id": ids.instance,
                "tenant_id": customer["tenant_id"],
                "customer_id": customer["id"],
                "subscription_id": subscriptions[number]["id"] if number % 2 == 0 else None,
                "name": f"{region or 'local'}-node-{number}",
                "status": rng.choice(INSTANCE_STATUSES),
                "region": region,
                "created_at": at,
                "updated_at": at,
            }
        )
        ids.instance += 1
    return subscriptions, instances


def tenant_rows(rng: random.Random, tenant: int, customers: int, ids: NextIds) -> TenantRows:
    """Every row of tenant number `tenant` (0-based), drawn from `rng` in a fixed order."""
    tenant_id = uuid.UUID(int=rng.getrandbits(128), version=4)
    row = {"id": tenant_id, "name": f"bench-tenant-{tenant:03d}", "created_at": BASE_TIME}
    metrics = _metrics(tenant_id, ids)
    plans, charges = _plans(rng, tenant_id, ids, metrics)
    people, subscriptions, instances = [], [], []
    for number in range(1, customers + 1):
        customer = _customer(rng, tenant, number, tenant_id, ids.customer)
        ids.customer += 1
        people.append(customer)
        subs, insts = _children(rng, customer, plans, ids)
        subscriptions += subs
        instances += insts
    return TenantRows(
        tenant=row,
        tables=[
            (_table(Tenant), [row]),
            (_table(BillableMetric), metrics),
            (_table(Plan), plans),
            (_table(PlanCharge), charges),
            (_table(Customer), people),
            (_table(Subscription), subscriptions),
            (_table(Instance), instances),
        ],
    )


def dataset(customers: int, seed: int = SEED) -> Iterator[TenantRows]:
    """Tenant after tenant (the last one may be smaller), so memory holds one tenant only."""
    rng = random.Random(seed)
    ids = NextIds()
    for tenant, start in enumerate(range(0, customers, CUSTOMERS_PER_TENANT)):
        yield tenant_rows(rng, tenant, min(CUSTOMERS_PER_TENANT, customers - start), ids)


def first_tenant_customers(customers: int) -> list[tuple[str, str, bool]]:
    """(global ID, external ID, archived?) of each customer of the first tenant, as
    `tenant_rows` numbers them: keys from 1, `ext-0-<number>`, every 50th archived."""
    return [
        (encode_global_id("Customer", number), f"ext-0-{number:06d}", number % ARCHIVE_EVERY == 0)
        for number in range(1, min(customers, CUSTOMERS_PER_TENANT) + 1)
    ]


async def _insert(connection: AsyncConnection, table: Table, rows: list[Row]) -> None:
    for start in range(0, len(rows), CHUNK):
        await connection.execute(insert(table), rows[start : start + CHUNK])


async def _api_key(connection: AsyncConnection, tenant_id: uuid.UUID) -> str:
    key, prefix = new_key()
    values = {
        "tenant_id": tenant_id,
        "prefix": prefix,
        "key_hash": hash_key(key),
        "scopes": sorted(ALL_SCOPES),
        "created_at": datetime.now(UTC),
    }
    await connection.execute(insert(_table(ApiKey)), [values])
    return key


async def _after_load(connection: AsyncConnection, counts: dict[str, int]) -> None:
    """PostgreSQL: move the id sequences past the given keys, and gather planner statistics."""
    if connection.dialect.name != "postgresql":
        return
    for table in counts:
        if table != "tenants":
            sequence = f"pg_get_serial_sequence('{table}', 'id')"
            await connection.execute(
                text(f"SELECT setval({sequence}, (SELECT max(id) FROM {table}))")
            )


async def populate(url: str, customers: int, seed: int = SEED) -> dict[str, Any]:
    """Insert the dataset into a migrated, empty database; the facts bench/ needs about it."""
    engine = make_engine(url)
    counts: dict[str, int] = {}
    first: Row | None = None
    try:
        async with engine.begin() as connection:
            if await connection.scalar(select(func.count()).select_from(_table(Tenant))):
                raise SystemExit("the database already has tenants: give a fresh database")
            for rows in dataset(customers, seed):
                first = first or rows.tenant
                for table, table_rows in rows.tables:
                    await _insert(connection, table, table_rows)
                    counts[str(table.name)] = counts.get(str(table.name), 0) + len(table_rows)
            assert first is not None
            key = await _api_key(connection, first["id"])
            await _after_load(connection, counts)
        if engine.dialect.name == "postgresql":
            async with engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    sample = min(SAMPLE_CUSTOMER, customers)
    return {
        "database_url": url,
        "seed": seed,
        "customers": customers,
        "rows": counts,
        "tenant_id": str(first["id"]),
        "tenant_name": first["name"],
        "api_key": key,
        "sample_customer_id": encode_global_id("Customer", sample),
    }


def prepare(url: str, customers: int, output: Path, seed: int = SEED) -> dict[str, Any]:
    """Migrate, populate and write the facts (with the API key) to `output`."""
    url = async_database_url(url)
    migrate(url)
    facts = asyncio.run(populate(url, customers, seed))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(orjson.dumps(facts, option=orjson.OPT_INDENT_2))
    return facts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dataset", description=__doc__)
    parser.add_argument("--database-url", required=True, help="a fresh database")
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--output", type=Path, default=RESULTS / "dataset.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    facts = prepare(args.database_url, args.customers, args.output, args.seed)
    seconds = time.perf_counter() - started
    rows = ", ".join(f"{count:,} {table}" for table, count in facts["rows"].items())
    print(f"inserted {rows} in {seconds:.1f} s; facts in {args.output}", file=sys.stderr)
    print(f"tenant {facts['tenant_name']} ({facts['tenant_id']}); API key:", file=sys.stderr)
    print(facts["api_key"])


if __name__ == "__main__":
    main()
