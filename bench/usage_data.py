"""The usage-billing world of `bench.usage`: one tenant, its plan and usage events.

The tenant and its API key are written as the owner (as `bench.dataset` does); the
customers, the six billable metrics, the plan and the subscription are made through the
API, as a tenant would. Events are drawn from a fixed seed, in the shape a metering
client sends: API calls (a user and a status), storage (gigabytes in a region), compute
(CPUs in a region) and seat counts. The heavy customer's events are loaded with COPY.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson
from sqlalchemy import insert

from bench.dataset import _api_key
from domain.ids import decode_int_id
from models import Tenant
from models.db import make_engine

SEED = 20_241_123
START = datetime(2024, 5, 1, tzinfo=UTC)  # the first day of the costs range
REGIONS = ("us-east-1", "eu-west-1", "ap-south-1")
ENDPOINTS = ("/v1/orders", "/v1/search", "/v1/users", "/v1/reports")
STATUSES = (200, 200, 200, 200, 200, 200, 201, 404, 500)
KINDS = ("api_call", "storage", "compute", "seats")
WEIGHTS = (55, 20, 20, 5)  # percent of the events
USERS = 5_000
HEAVY = "heavy-user"  # the customer holding the costs events
COPY_CHUNK = 100_000
COLUMNS = (
    "tenant_id",
    "customer_id",
    "transaction_id",
    "event_type",
    "timestamp",
    "properties",
    "created_at",
)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One billable metric of the plan and its charge."""

    name: str
    aggregation: str
    event_type: str
    key: str | None = None
    filters: tuple[dict[str, Any], ...] = ()
    group: str | None = None
    unit_price: str = "1"
    credit_type: str = "USD"

    def metric_input(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "name": self.name,
            "aggregationType": self.aggregation,
            "eventTypeFilter": {"inValues": [self.event_type]},
            "propertyFilters": list(self.filters),
        }
        if self.key:
            values["aggregationKey"] = self.key
        if self.group:
            values["groupKeys"] = [[self.group]]
        return values


# Every aggregation, a group key, an `exists` and a `notInValues` filter, two credit types.
METRICS = (
    MetricSpec("API calls", "COUNT", "api_call", unit_price="0.0001"),
    MetricSpec(
        "Active users", "UNIQUE", "api_call", "user_id", ({"name": "user_id"},), None, "0.25"
    ),
    MetricSpec(
        "Storage GB",
        "SUM",
        "storage",
        "gb",
        ({"name": "gb", "exists": True}, {"name": "region"}),
        "region",
        "0.023",
    ),
    MetricSpec("Peak CPUs", "MAX", "compute", "cpus", ({"name": "cpus"},), None, "0.5"),
    MetricSpec("Seats", "LATEST", "seats", "seats", ({"name": "seats"},), None, "2", "CREDITS"),
    MetricSpec(
        "Failed calls",
        "COUNT",
        "api_call",
        filters=({"name": "status", "notInValues": ["200", "201"]},),
        unit_price="0.001",
        credit_type="CREDITS",
    ),
)


@dataclass(frozen=True, slots=True)
class World:
    """What the measurements need to know about the tenant the run made."""

    dsn: str  # asyncpg's, as the owner: for the hand-written side
    tenant_id: uuid.UUID
    key: str
    heavy_id: str  # the costs customer's global ID
    heavy_pk: int
    ingest_pks: dict[str, int]  # handle -> key of the customers ingestion writes to


@dataclass(frozen=True, slots=True)
class Event:
    transaction_id: str
    customer: str  # a handle
    event_type: str
    timestamp: datetime
    properties: dict[str, Any]

    def api(self) -> dict[str, Any]:
        """As `UsageEventInput`."""
        return {
            "transactionId": self.transaction_id,
            "customerId": self.customer,
            "eventType": self.event_type,
            "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
            "properties": self.properties,
        }

    def row(self, world: World, created_at: datetime) -> tuple[Any, ...]:
        """As a `usage_events` row, in COLUMNS order (properties as JSON text)."""
        customer = world.heavy_pk if self.customer == HEAVY else world.ingest_pks[self.customer]
        return (
            world.tenant_id,
            customer,
            self.transaction_id,
            self.event_type,
            self.timestamp,
            orjson.dumps(self.properties).decode(),
            created_at,
        )


def _properties(rng: random.Random, kind: str) -> dict[str, Any]:
    if kind == "api_call":
        return {
            "user_id": f"user-{rng.randrange(USERS):05d}",
            "endpoint": rng.choice(ENDPOINTS),
            "status": rng.choice(STATUSES),
        }
    if kind == "storage":
        return {"gb": rng.randrange(1, 50_000) / 1000, "region": rng.choice(REGIONS)}
    if kind == "compute":
        return {"cpus": rng.choice((1, 2, 4, 8, 16, 32, 64)), "region": rng.choice(REGIONS)}
    return {"seats": rng.randrange(1, 500)}


def events(
    count: int,
    prefix: str,
    customers: list[str],
    days: int,
    seed: int = SEED,
    stream: str | None = None,
) -> Iterator[Event]:
    """`count` events over `days` days from START, spread over `customers`. Transaction ids
    are `<prefix>-<n>`, so each prefix gives fresh ones; the rest is drawn from `stream`
    (default: the prefix), so two prefixes of one stream give the same events."""
    rng = random.Random(f"{seed}-{stream or prefix}")
    span = days * 86_400 * 1_000_000
    for number in range(count):
        kind = rng.choices(KINDS, WEIGHTS)[0]
        yield Event(
            f"{prefix}-{number:08d}",
            customers[number % len(customers)],
            kind,
            START + timedelta(microseconds=rng.randrange(span)),
            _properties(rng, kind),
        )


def asyncpg_dsn(url: str) -> str:
    """asyncpg's DSN of a SQLAlchemy `postgresql+asyncpg://` URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def make_tenant(url: str) -> tuple[uuid.UUID, str]:
    """A tenant and an all-scopes API key, written as the owner (the CLI's way)."""
    tenant_id = uuid.UUID(int=random.Random(SEED).getrandbits(128), version=4)
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            row = {"id": tenant_id, "name": "bench-usage", "created_at": datetime.now(UTC)}
            await connection.execute(insert(Tenant), [row])
            key = await _api_key(connection, tenant_id)
    finally:
        await engine.dispose()
    return tenant_id, key


def _mutation(
    client: httpx.Client, url: str, name: str, input_type: str, result: str, values: Any
) -> str:
    """Run `name(input: values)`, which must succeed; the ID of what it made."""
    query = (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {result} {{ id }} "
        "userErrors { field code message } } }"
    )
    response = client.post(url, json={"query": query, "variables": {"input": values}})
    response.raise_for_status()
    answer = response.json()
    payload = (answer.get("data") or {}).get(name)
    if not payload or payload["userErrors"] or answer.get("errors"):
        raise RuntimeError(f"{name} failed: {answer}")
    made: str = payload[result]["id"]
    return made


def make_plan(
    database_url: str, url: str, key: str, tenant_id: uuid.UUID, ingest_customers: int
) -> World:
    """Through the API: the customers, the metrics, the plan and the heavy customer's
    subscription (started a month before START)."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(headers=headers, timeout=30) as client:

        def customer(handle: str) -> str:
            values = {"displayName": handle.title(), "handle": handle}
            return _mutation(
                client, url, "createCustomer", "CreateCustomerInput", "customer", values
            )

        heavy = customer(HEAVY)
        ingest = {h: customer(h) for h in (f"ingest-{n:03d}" for n in range(ingest_customers))}
        charges = []
        for spec in METRICS:
            metric = _mutation(
                client,
                url,
                "createBillableMetric",
                "CreateBillableMetricInput",
                "billableMetric",
                spec.metric_input(),
            )
            charges.append(
                {
                    "billableMetricId": metric,
                    "unitPrice": spec.unit_price,
                    "creditType": spec.credit_type,
                }
            )
        plan_values = {"name": "Usage", "charges": charges}
        plan = _mutation(client, url, "createPlan", "CreatePlanInput", "plan", plan_values)
        started = (START - timedelta(days=31)).isoformat().replace("+00:00", "Z")
        subscription = {"customerId": heavy, "planId": plan, "startedAt": started}
        _mutation(
            client,
            url,
            "createSubscription",
            "CreateSubscriptionInput",
            "subscription",
            subscription,
        )
    return World(
        dsn=asyncpg_dsn(database_url),
        tenant_id=tenant_id,
        key=key,
        heavy_id=heavy,
        heavy_pk=_pk(heavy),
        ingest_pks={handle: _pk(gid) for handle, gid in ingest.items()},
    )


def _pk(global_id: str) -> int:
    key = decode_int_id(global_id, "Customer")
    assert key is not None
    return key


async def copy_heavy_events(world: World, count: int, days: int) -> None:
    """The heavy customer's events, by COPY in chunks, then ANALYZE (as the owner)."""
    connection = await asyncpg.connect(world.dsn)
    try:
        created = datetime.now(UTC)
        chunk: list[tuple[Any, ...]] = []
        for event in events(count, "cost", [HEAVY], days):
            chunk.append(event.row(world, created))
            if len(chunk) == COPY_CHUNK:
                await connection.copy_records_to_table(
                    "usage_events", records=chunk, columns=COLUMNS
                )
                chunk = []
        if chunk:
            await connection.copy_records_to_table("usage_events", records=chunk, columns=COLUMNS)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
