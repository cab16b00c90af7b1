"""Customer.costs and previewInvoice: charges of the customer's plans times quantities the
database aggregates, rated in Decimal (domain/rating.py). Nothing is stored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson
from sqlalchemy import Integer, String, column, exists, not_, or_, select, text, union_all
from sqlalchemy.sql import FromClause

from domain.errors import BadUserInput, NotFound
from domain.ids import decode_int_id
from domain.problems import Code, Problem
from domain.rating import ChargeTerms, CreditTypeLines, Quantities, rate
from domain.usage import cost_days, current_month
from models import PlanCharge, Subscription, UsageEvent
from models.base import Json, UtcDateTime, utcnow
from resolvers.context import Context
from resolvers.metering import Metric, metric_quantities, quantity
from resolvers.specs import ACTIVE_STATUSES
from resolvers.usage import resolve_events

MAX_INVOICE_DAYS = 366
GIVEN_ID_BASE = 2**62  # given events sort after stored ones when timestamps tie
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores datetimes in SQLite
# PostgreSQL: plan each metric query for its own customer and range. asyncpg prepares the
# statements, and after five runs PostgreSQL may keep a generic plan, which can not see the
# range and guesses it holds 0.5% of the customer's events: an index scan in timestamp
# order, about five times slower than the sequential scan a month of a large customer
# wants (bench/README.md, "Usage billing"). Local to the request's transaction.
CUSTOM_PLANS = text("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)")


@dataclass(frozen=True, slots=True)
class Bucket:
    start: datetime
    end: datetime
    credit_types: list[CreditTypeLines]


@dataclass(frozen=True, slots=True)
class InvoicePreview:
    customer_id: int
    start: datetime
    end: datetime
    credit_types: list[CreditTypeLines]


def stored_events() -> FromClause:
    """The tenant's stored events (an ORM select, so the tenancy guard scopes it)."""
    e = UsageEvent
    return select(
        e.id, e.customer_id, e.transaction_id, e.event_type, e.timestamp, e.properties
    ).subquery("events")


async def _charges(
    ctx: Context, customer_id: int, start: datetime, end: datetime, current: bool
) -> list[Any]:
    s, c = Subscription, PlanCharge
    statement = (
        select(
            s.started_at,
            s.ends_at,
            c.id,
            c.plan_id,
            c.position,
            c.billable_metric_id,
            c.unit_price,
            c.credit_type,
        )
        .join(c, c.plan_id == s.plan_id)
        .where(s.customer_id == customer_id)
    )
    if current:
        statement = statement.where(s.status.in_(ACTIVE_STATUSES))
    else:
        statement = statement.where(
            s.status != "PENDING", s.started_at < end, or_(s.ends_at.is_(None), s.ends_at > start)
        )
    return list((await ctx.uow.execute(statement)).all())


async def _metrics(ctx: Context, charges: Sequence[Any]) -> dict[int, Metric]:
    ids = sorted({row.billable_metric_id for row in charges})
    rows = await ctx.loaders.billable_metric_by_id.load_many(ids)
    return {row.id: Metric.from_row(row) for row in rows if row is not None}


def _terms(row: Any, metric: Metric) -> ChargeTerms:
    return ChargeTerms(
        charge_id=row.id,
        metric_id=metric.id,
        metric_name=metric.name,
        unit_price=row.unit_price,
        credit_type=row.credit_type,
        group_key=metric.group_name,
        order=(row.plan_id, row.position, row.id),
    )


async def _quantities(
    ctx: Context,
    metrics: dict[int, Metric],
    source: FromClause,
    customer_id: int,
    start: datetime,
    end: datetime,
    by_day: bool,
) -> Quantities:
    found: Quantities = {}
    if metrics and ctx.uow.dialect == "postgresql":
        await ctx.uow.execute(CUSTOM_PLANS)
    for metric in metrics.values():
        statement = metric_quantities(
            metric, source, ctx.uow.dialect, customer_id, start, end, by_day
        )
        for row in await ctx.uow.execute(statement):
            day = _day(row.day) if by_day else None
            group = row.group_value if metric.group_key else None
            found[(metric.id, day, group)] = quantity(row.quantity)
    return found


def _day(value: date | str) -> date:
    """A metric query's day: a DATE from PostgreSQL, 'YYYY-MM-DD' text from SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


async def resolve_costs(
    ctx: Context, customer_id: int, starting_on: datetime, ending_before: datetime
) -> list[Bucket]:
    """One bucket per UTC day; a day's charges are those of subscriptions active that day."""
    ctx.principal.require("read:billing")
    days = cost_days(starting_on, ending_before)
    charges = await _charges(ctx, customer_id, starting_on, ending_before, current=False)
    metrics = await _metrics(ctx, charges)
    quantities = await _quantities(
        ctx, metrics, stored_events(), customer_id, starting_on, ending_before, True
    )
    buckets = []
    for day in days:
        start, end = _midnight(day), _midnight(day + timedelta(days=1))
        active = [
            _terms(row, metrics[row.billable_metric_id])
            for row in charges
            if row.started_at < end and (row.ends_at is None or row.ends_at > start)
        ]
        if active:  # API.md: only days in which a subscription was active
            buckets.append(Bucket(start, end, rate(day, active, quantities)))
    return buckets


def _period(
    starting_on: datetime | None, ending_before: datetime | None
) -> tuple[datetime, datetime]:
    month_start, month_end = current_month(utcnow())
    start, end = starting_on or month_start, ending_before or month_end
    if end <= start:
        raise BadUserInput("endingBefore must be after startingOn", argument="endingBefore")
    if end - start > timedelta(days=MAX_INVOICE_DAYS):
        raise BadUserInput(f"At most {MAX_INVOICE_DAYS} days at once", argument="endingBefore")
    return start, end


GIVEN_SQLITE = """
SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.customer_id') AS customer_id,
       json_extract(value, '$.transaction_id') AS transaction_id,
       json_extract(value, '$.event_type') AS event_type,
       json_extract(value, '$.timestamp') AS timestamp,
       json_extract(value, '$.properties') AS properties
FROM json_each(:given)
"""
GIVEN_POSTGRES = """
SELECT (e ->> 'id')::bigint AS id, (e ->> 'customer_id')::bigint AS customer_id,
       e ->> 'transaction_id' AS transaction_id, e ->> 'event_type' AS event_type,
       (e ->> 'timestamp')::timestamptz AS timestamp, e -> 'properties' AS properties
FROM jsonb_array_elements(CAST(:given AS jsonb)) AS e
"""


def _given_events(rows: list[dict[str, Any]], dialect: str) -> FromClause:
    """The given events as a table: one bound JSON array, unpacked by the database."""
    postgres = dialect == "postgresql"
    for row in rows:
        moment = row["timestamp"].astimezone(UTC)
        row["timestamp"] = moment.isoformat() if postgres else moment.strftime(SQLITE_TIME)
    statement = text(GIVEN_POSTGRES if postgres else GIVEN_SQLITE).bindparams(
        given=orjson.dumps(rows).decode()
    )
    columns = statement.columns(
        column("id", Integer),
        column("customer_id", Integer),
        column("transaction_id", String),
        column("event_type", String),
        column("timestamp", UtcDateTime()),
        column("properties", Json),
    )
    return columns.subquery("given_events")


async def preview_invoice(
    ctx: Context,
    customer_gid: str,
    events: list[dict[str, Any]],
    merge: bool,
    skip_zero: bool,
    starting_on: datetime | None,
    ending_before: datetime | None,
) -> InvoicePreview:
    """REPLACE prices only the given events; MERGE adds the period's stored events (a given
    transaction id already stored is not counted twice). Events outside the period are
    ignored; events without a timestamp happen now."""
    ctx.principal.require("read:billing")
    start, end = _period(starting_on, ending_before)
    customer_id = decode_int_id(customer_gid, "Customer")
    customer = None if customer_id is None else await ctx.loaders.customer_by_id.load(customer_id)
    if customer is None or customer_id is None:
        raise NotFound("No customer has this ID", argument="customerId")
    resolved, problems = await resolve_events(ctx, events)
    problems += [_elsewhere(event.position) for event, owner in resolved if owner != customer_id]
    if problems:
        raise BadUserInput(
            "Invalid events; nothing was priced",
            problems=[
                {"field": _argument_path(p.field), "code": p.code.value, "message": p.message}
                for p in problems
            ],
        )
    # As ingestUsage would store them: the first event of a transaction id wins, and only
    # then are events outside the period left out (a later copy inside it is a duplicate).
    first: dict[str, Any] = {}
    for event, _ in resolved:
        first.setdefault(event.transaction_id, event)
    rows: dict[str, dict[str, Any]] = {
        event.transaction_id: {
            "id": GIVEN_ID_BASE + event.position,
            "customer_id": customer_id,
            "transaction_id": event.transaction_id,
            "event_type": event.event_type,
            "timestamp": event.timestamp,
            "properties": event.properties,
        }
        for event in first.values()
        if start <= event.timestamp < end
    }
    charges = await _charges(ctx, customer_id, start, end, current=True)
    metrics = await _metrics(ctx, charges)
    source = _source(list(rows.values()), merge, ctx.uow.dialect)
    quantities = (
        {}
        if source is None
        else await _quantities(ctx, metrics, source, customer_id, start, end, False)
    )
    terms = [_terms(row, metrics[row.billable_metric_id]) for row in charges]
    credit_types = rate(None, terms, quantities)
    if skip_zero:
        for lines in credit_types:
            lines.lines = [line for line in lines.lines if line.quantity != 0]
        credit_types = [lines for lines in credit_types if lines.lines]
    return InvoicePreview(customer_id, start, end, credit_types)


def _elsewhere(index: int) -> Problem:
    at = ("events", str(index), "customerId")
    return Problem(Code.INVALID, at, "This event belongs to another customer than customerId")


def _argument_path(field: tuple[str, ...]) -> list[str]:
    """previewInvoice takes `events` as an argument, not inside an `input` object: its paths
    are ["events", "3", "customerId"], like those of _elsewhere."""
    return list(field[1:] if field[:2] == ("input", "events") else field)


def _source(rows: list[dict[str, Any]], merge: bool, dialect: str) -> FromClause | None:
    stored = stored_events()
    if not rows:
        return stored if merge else None
    given = _given_events(rows, dialect)
    if not merge:
        return given
    known = exists().where(UsageEvent.transaction_id == given.c.transaction_id)
    fresh = select(*given.c).where(not_(known))
    return union_all(select(*stored.c), fresh).subquery("merged")
