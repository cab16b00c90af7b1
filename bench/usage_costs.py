"""`Customer.costs` through HTTP beside the same aggregation written by hand in SQL.

The hand-written side runs on one asyncpg connection, as the owner (so without row-level
security) and with custom plans (as `costs` asks for): one query for the customer's plan
charges, then per billable metric one aggregate grouped by UTC day (and by the group key's
value), written for the bench's metrics as one would write them by hand; then quantity x
unit price per day in Python. That is the work `costs` does, statement for statement.
Both answers are compared, as exact decimals, before anything is timed.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import orjson

from bench.load import http_request, percentile, read_response
from bench.usage_data import METRICS, START, World
from models.sqlite_functions import NUMBER_SQL

COSTS = """query($id: ID!, $s: DateTime!, $e: DateTime!) {
  customer(id: $id) {
    costs(startingOn: $s, endingBefore: $e) {
      startTimestamp endTimestamp
      creditTypes { creditType cost lineItems { name quantity unitPrice cost groupKey groupValue } }
    }
  }
}"""

CHARGES = """
SELECT m.name, c.unit_price, c.credit_type, s.started_at, s.ends_at
FROM subscriptions s
JOIN plan_charges c ON c.plan_id = s.plan_id
JOIN billable_metrics m ON m.id = c.billable_metric_id
WHERE s.tenant_id = $1 AND s.customer_id = $2 AND s.status <> 'PENDING'
  AND s.started_at < $4 AND (s.ends_at IS NULL OR s.ends_at > $3)
"""
# $1 tenant, $2 customer, [$3, $4) the range; every query returns (day, group, quantity).
RANGE = 'tenant_id = $1 AND customer_id = $2 AND "timestamp" >= $3 AND "timestamp" < $4'
DAY = "(\"timestamp\" AT TIME ZONE 'UTC')::date"


def _number(key: str) -> str:
    """A property as NUMERIC when it is a number or a numeric string, else NULL (API.md)."""
    text = f"properties ->> '{key}'"
    return f"CASE WHEN {text} ~ '{NUMBER_SQL}' THEN ({text})::numeric END"


def _daily(quantity: str, where: str, group: str = "NULL::text") -> str:
    return (
        f"SELECT {DAY} AS day, {group} AS group_value, {quantity} AS quantity "
        f"FROM usage_events WHERE {RANGE} AND {where} GROUP BY 1, 2"
    )


HAND_WRITTEN = {
    "API calls": _daily("count(*)", "event_type = 'api_call'"),
    "Active users": _daily("count(DISTINCT properties ->> 'user_id')", "event_type = 'api_call'"),
    "Storage GB": _daily(
        f"sum({_number('gb')})",
        "event_type = 'storage' AND properties ->> 'gb' IS NOT NULL",
        "coalesce(properties ->> 'region', '')",
    ),
    "Peak CPUs": _daily(f"max({_number('cpus')})", "event_type = 'compute'"),
    "Seats": _daily(
        f'(array_agg({_number("seats")} ORDER BY "timestamp" DESC, id DESC)'
        f" FILTER (WHERE {_number('seats')} IS NOT NULL))[1]",
        "event_type = 'seats'",
    ),
    "Failed calls": _daily(
        "count(*)",
        "event_type = 'api_call' AND (properties ->> 'status' IS NULL"
        " OR properties ->> 'status' NOT IN ('200', '201'))",
    ),
}
assert set(HAND_WRITTEN) == {spec.name for spec in METRICS}, "a metric without its SQL"

LineKey = tuple[str, str, str, str | None]  # day, credit type, metric name, group value


@dataclass(frozen=True, slots=True)
class Costs:
    """An answer reduced to what must agree: the non-zero lines (quantity, cost) and the
    total of every day and credit type."""

    lines: dict[LineKey, tuple[Decimal, Decimal]]
    totals: dict[tuple[str, str], Decimal]

    @classmethod
    def of_api(cls, data: dict[str, Any]) -> Costs:
        lines: dict[LineKey, tuple[Decimal, Decimal]] = {}
        totals: dict[tuple[str, str], Decimal] = {}
        for bucket in data["customer"]["costs"]:
            day = bucket["startTimestamp"][:10]
            for credit in bucket["creditTypes"]:
                totals[(day, credit["creditType"])] = Decimal(credit["cost"])
                for item in credit["lineItems"]:
                    quantity = Decimal(item["quantity"])
                    if quantity:
                        key = (day, credit["creditType"], item["name"], item["groupValue"])
                        lines[key] = (quantity, Decimal(item["cost"]))
        return cls(lines, totals)

    def differences(self, other: Costs, most: int = 5) -> list[str]:
        """What differs from `other`, a line each (at most `most`)."""
        return (
            _differ("line", self.lines, other.lines) + _differ("total", self.totals, other.totals)
        )[:most]


def _differ(name: str, mine: Mapping[Any, Any], theirs: Mapping[Any, Any]) -> list[str]:
    return [
        f"{name} {key}: API {mine.get(key)}, SQL {theirs.get(key)}"
        for key in sorted(set(mine) | set(theirs), key=str)
        if mine.get(key) != theirs.get(key)
    ]


@dataclass(frozen=True, slots=True)
class Latency:
    side: str  # "API" or "SQL"
    seconds: list[float]

    @property
    def p50_ms(self) -> float:
        return percentile(sorted(self.seconds), 0.5)

    @property
    def p95_ms(self) -> float:
        return percentile(sorted(self.seconds), 0.95)

    def to_dict(self) -> dict[str, Any]:
        ms = [round(s * 1000, 2) for s in self.seconds]
        return {"side": self.side, "p50_ms": self.p50_ms, "p95_ms": self.p95_ms, "ms": ms}


def _utc(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def api_costs(url: str, world: World, start: datetime, end: datetime) -> Costs:
    """One `costs` request on a connection of its own (the answer takes long enough for an
    idle keep-alive connection to be closed by the server meanwhile)."""
    variables = {"id": world.heavy_id, "s": _utc(start), "e": _utc(end)}
    request = http_request(url, world.key, orjson.dumps({"query": COSTS, "variables": variables}))
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(request)
        status, body, _ = await read_response(reader)
    finally:
        writer.close()
        await writer.wait_closed()
    answer = orjson.loads(body) if status == 200 else {}
    if "data" not in answer or answer.get("errors"):
        raise RuntimeError(f"costs answered {status}: {body[:500]!r}")
    return Costs.of_api(answer["data"])


async def hand_written_costs(
    connection: Any, world: World, start: datetime, end: datetime
) -> Costs:
    arguments = (world.tenant_id, world.heavy_pk, start, end)
    charges = await connection.fetch(CHARGES, *arguments)
    quantities: dict[str, dict[date, list[tuple[str | None, Decimal]]]] = {}
    for name in sorted({charge["name"] for charge in charges}):
        by_day: dict[date, list[tuple[str | None, Decimal]]] = defaultdict(list)
        for row in await connection.fetch(HAND_WRITTEN[name], *arguments):
            if row["quantity"]:
                by_day[row["day"]].append((row["group_value"], Decimal(row["quantity"])))
        quantities[name] = by_day
    lines: dict[LineKey, tuple[Decimal, Decimal]] = {}
    totals: dict[tuple[str, str], Decimal] = {}
    with localcontext(prec=1_000):
        for offset in range((end - start).days):
            day_start = start + timedelta(days=offset)
            day_end = day_start + timedelta(days=1)
            day = day_start.date()
            for charge in charges:
                ends = charge["ends_at"]
                if charge["started_at"] >= day_end or (ends is not None and ends <= day_start):
                    continue
                total = (day.isoformat(), charge["credit_type"])
                totals.setdefault(total, Decimal(0))
                for group, quantity in quantities[charge["name"]].get(day, []):
                    cost = quantity * charge["unit_price"]
                    lines[(*total, charge["name"], group)] = (quantity, cost)
                    totals[total] += cost
    return Costs(lines, totals)


async def _timed(work: Any) -> tuple[float, Costs]:
    started = time.perf_counter()
    found: Costs = await work
    return time.perf_counter() - started, found


async def measure(
    url: str, world: World, days: int, repetitions: int, warmup: int
) -> tuple[Latency, Latency, Costs]:
    """Check that both sides agree, then time them alternately: `warmup` unmeasured rounds
    and `repetitions` measured ones of [START, START + days). Also the answer compared."""
    start, end = START, START + timedelta(days=days)
    # Custom plans, as `costs` asks for (resolvers/costs.py, CUSTOM_PLANS): a generic plan
    # of a prepared statement would make the hand-written side several times slower.
    settings = {"plan_cache_mode": "force_custom_plan"}
    connection = await asyncpg.connect(world.dsn, server_settings=settings)
    api: list[float] = []
    sql: list[float] = []
    try:
        _, answer = await _timed(api_costs(url, world, start, end))
        _, expected = await _timed(hand_written_costs(connection, world, start, end))
        if differences := answer.differences(expected):
            raise RuntimeError(
                "costs differ from the hand-written SQL's:\n" + "\n".join(differences)
            )
        for round_number in range(warmup + repetitions):
            api_seconds, _ = await _timed(api_costs(url, world, start, end))
            sql_seconds, _ = await _timed(hand_written_costs(connection, world, start, end))
            if round_number >= warmup:
                api.append(api_seconds)
                sql.append(sql_seconds)
    finally:
        await connection.close()
    return Latency("API", api), Latency("SQL", sql), answer
