"""ingestUsage: up to 1,000 events a call, validated all-or-nothing, stored with one INSERT.

Customers are resolved for the whole call in one query (global ID, handle, externalId or
ingest alias of an active customer); transaction ids already stored for the tenant, or
repeated within the call, are counted as duplicates and ignored (`ON CONFLICT DO
NOTHING`), so a retried call is safe. On PostgreSQL the rows travel as one array per
column (`INSERT ... SELECT FROM unnest(...)`), a statement compiled and prepared once, where
a VALUES list of 1,000 rows would be compiled anew for every call (8,000 bind parameters:
most of the call's time); the same statement draws the ids and inserts in transaction-id
order, free of deadlocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from typing import cast as cast_type

import orjson
from sqlalchemy import (
    ARRAY,
    BigInteger,
    DateTime,
    String,
    Table,
    Uuid,
    and_,
    bindparam,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import sqlite

from domain.errors import BadUserInput
from domain.ids import decode_global_id
from domain.problems import Code, Problem
from domain.usage import MAX_EVENTS, Event, validate_events
from models import Customer, CustomerIngestAlias, UsageEvent
from models.base import utcnow
from resolvers.context import Context

CUSTOMER_KEY_DIGITS = 18
_ARRAYS: dict[str, Any] = {  # the columns that differ from row to row, as arrays of these
    "customer_id": BigInteger(),
    "transaction_id": String(),
    "event_type": String(),
    "timestamp": DateTime(timezone=True),
    "properties": String(),  # JSON text, cast to jsonb by the database
}
_TABLE = cast_type(Table, UsageEvent.__table__)
# One statement: ids are drawn in the order of the call's list (they break LATEST's
# timestamp ties, and PostgreSQL evaluates `nextval` after the inner ORDER BY), then rows
# go in transaction-id order: concurrent calls sharing transaction ids in different orders
# would otherwise each wait for the other's uncommitted unique-index entry (a deadlock).
POSTGRES_INSERT = text(
    """
INSERT INTO usage_events
    (id, customer_id, transaction_id, event_type, "timestamp", properties, tenant_id, created_at)
SELECT drawn.id, drawn.customer_id, drawn.transaction_id, drawn.event_type, drawn."timestamp",
       CAST(drawn.properties AS jsonb), :tenant_id, :created_at
FROM (
    SELECT nextval('usage_events_id_seq') AS id, given.*
    FROM unnest(:customer_id, :transaction_id, :event_type, :timestamp, :properties)
        WITH ORDINALITY
        AS given (customer_id, transaction_id, event_type, "timestamp", properties, position)
    ORDER BY given.position
) AS drawn
ORDER BY drawn.transaction_id COLLATE "C"
ON CONFLICT (tenant_id, transaction_id) DO NOTHING
"""
).bindparams(
    *(bindparam(name, type_=ARRAY(kind)) for name, kind in _ARRAYS.items()),
    bindparam("tenant_id", type_=Uuid()),
    bindparam("created_at", type_=DateTime(timezone=True)),
)


@dataclass(slots=True)
class Ingested:
    accepted: int = 0
    duplicates: int = 0
    problems: list[Problem] = field(default_factory=list)


def customer_key(reference: str) -> int | None:
    """The key of a Customer global ID, or None when the reference is something else."""
    try:
        type_name, key = decode_global_id(reference)
    except BadUserInput:
        return None
    digits = key.isascii() and key.isdigit() and len(key) <= CUSTOMER_KEY_DIGITS
    return int(key) if type_name == "Customer" and digits else None


async def resolve_references(ctx: Context, references: set[str]) -> dict[str, int]:
    """Each reference's active customer, in one query: ID, then handle, externalId, alias."""
    keys = {ref: key for ref in references if (key := customer_key(ref)) is not None}
    lowered = sorted({ref.lower() for ref in references})
    alias = CustomerIngestAlias
    statement = (
        select(Customer.id, Customer.handle, Customer.external_id, alias.alias)
        .outerjoin(
            alias,
            and_(
                alias.customer_id == Customer.id, alias.active, func.lower(alias.alias).in_(lowered)
            ),
        )
        .where(
            Customer.archived_at.is_(None),
            or_(
                Customer.id.in_(set(keys.values())),
                func.lower(Customer.handle).in_(lowered),
                func.lower(Customer.external_id).in_(lowered),
                func.lower(alias.alias).in_(lowered),
            ),
        )
    )
    by_id: set[int] = set()
    by_name: dict[str, dict[str, int]] = {"handle": {}, "external_id": {}, "alias": {}}
    for row in await ctx.uow.execute(statement):
        by_id.add(row.id)
        for kind, value in (
            ("handle", row.handle),
            ("external_id", row.external_id),
            ("alias", row.alias),
        ):
            if value is not None:
                by_name[kind].setdefault(value.lower(), row.id)
    found: dict[str, int] = {}
    for ref in references:
        if keys.get(ref) in by_id:
            found[ref] = keys[ref]
            continue
        for kind in ("handle", "external_id", "alias"):
            if ref.lower() in by_name[kind]:
                found[ref] = by_name[kind][ref.lower()]
                break
    return found


async def resolve_events(
    ctx: Context, events: list[dict[str, Any]]
) -> tuple[list[tuple[Event, int]], list[Problem]]:
    """Valid events with their customer's key, or every problem with its index: an unknown
    customer is reported even when the call has other problems (API.md: every problem)."""
    valid, problems = validate_events(events, utcnow())
    if len(events) > MAX_EVENTS:
        return [], problems
    unusable = {p.field[2] for p in problems if p.field[3:] == ("customerId",)}
    references = {
        index: item["customerId"] for index, item in enumerate(events) if str(index) not in unusable
    }
    customers = await resolve_references(ctx, set(references.values()))
    for index, reference in references.items():
        if reference not in customers:
            at = ("input", "events", str(index), "customerId")
            message = "No active customer has this ID, handle, externalId or ingest alias"
            problems.append(Problem(Code.NOT_FOUND, at, message))
    if problems:
        problems.sort(key=lambda p: int(p.field[2]))  # by event (stable within one)
        return [], problems
    return [(event, customers[event.customer_ref]) for event in valid], problems


async def ingest_usage(ctx: Context, events: list[dict[str, Any]]) -> Ingested:
    ctx.principal.require("write:usage")
    resolved, problems = await resolve_events(ctx, events)
    if problems:
        return Ingested(problems=problems)
    firsts: dict[str, tuple[Event, int]] = {}  # the first event of a transaction id wins
    for event, customer_id in resolved:
        firsts.setdefault(event.transaction_id, (event, customer_id))
    if not firsts:
        return Ingested()
    unique = list(firsts.values())
    tenant_id, now = ctx.principal.tenant_id, utcnow()
    async with ctx.uow.write() as session:
        if ctx.uow.dialect == "postgresql":
            result: Any = await session.execute(POSTGRES_INSERT, _columns(unique, tenant_id, now))
        else:
            result = await session.execute(_sqlite_insert(unique, tenant_id, now))
        accepted = max(int(result.rowcount), 0)
    return Ingested(accepted=accepted, duplicates=len(resolved) - accepted)


def _columns(unique: list[tuple[Event, int]], tenant_id: Any, now: datetime) -> dict[str, Any]:
    """POSTGRES_INSERT's parameters: a list per column, in the call's order. Properties are
    JSON text for the database to parse into jsonb: validation left only plain JSON (no
    integer beyond 64 bits, no NaN, no lone surrogate), mostly already written by orjson,
    which gives the same jsonb values as the standard library."""
    return {
        "customer_id": [customer_id for _, customer_id in unique],
        "transaction_id": [event.transaction_id for event, _ in unique],
        "event_type": [event.event_type for event, _ in unique],
        "timestamp": [event.timestamp for event, _ in unique],
        "properties": [_json_text(event) for event, _ in unique],
        "tenant_id": tenant_id,
        "created_at": now,
    }


def _json_text(event: Event) -> str:
    encoded = event.properties_json
    return (encoded if encoded is not None else orjson.dumps(event.properties)).decode()


def _sqlite_insert(unique: list[tuple[Event, int]], tenant_id: Any, now: datetime) -> Any:
    rows = [
        {
            "tenant_id": tenant_id,
            "customer_id": customer_id,
            "transaction_id": event.transaction_id,
            "event_type": event.event_type,
            "timestamp": event.timestamp,
            "properties": event.properties,
            "created_at": now,
        }
        for event, customer_id in unique
    ]
    return (
        sqlite.insert(_TABLE)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["tenant_id", "transaction_id"])
    )
