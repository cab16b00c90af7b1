"""A plain-Python model of billing (API.md, Billing): what `Customer.costs` and
`previewInvoice` must answer for given events, metrics, plans and subscriptions.

Written from the specification, independently of resolvers/ and domain/rating.py: events
are filtered and aggregated in Python, one event at a time, and every amount is a Decimal
computed exactly (no context rounding).

Property values are compared as text: a string as it is, a number as PostgreSQL's NUMERIC
writes it (what the client wrote, without exponent: 1e-05 is "0.00001"), booleans
"true"/"false"; JSON null is an absent property. A quantity is a JSON number or a string
holding one (`-?digits[.digits][e±ddd]`, exponent of at most three digits).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Context, Decimal, Inexact, localcontext
from typing import Any

NUMERIC_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]{1,3})?")
EXACT = Context(prec=200_000, traps=[Inexact])
STORED_STATUSES_EXCLUDED = frozenset({"PENDING"})
CURRENT_STATUSES = frozenset({"ACTIVE", "TRIALING"})
GIVEN_ORDER_BASE = 10**12  # given events come after every stored event at the same time


@dataclass(frozen=True)
class PropertyFilter:
    name: str
    exists: bool | None = None
    in_values: tuple[str, ...] | None = None
    not_in_values: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Metric:
    id: str
    name: str
    aggregation: str
    key: str | None
    event_in: tuple[str, ...] | None
    event_not_in: tuple[str, ...] | None
    filters: tuple[PropertyFilter, ...]
    group_keys: tuple[tuple[str, ...], ...]

    @property
    def group_key(self) -> tuple[str, ...]:
        return self.group_keys[0] if self.group_keys else ()


@dataclass(frozen=True)
class Charge:
    """One charge of one plan; `order` is (plan creation order, position in the plan)."""

    metric: Metric
    unit_price: Decimal
    credit_type: str
    order: tuple[int, int]


@dataclass(frozen=True)
class Subscription:
    charges: tuple[Charge, ...]
    status: str
    started_at: datetime
    ends_at: datetime | None


@dataclass(frozen=True)
class Event:
    """An event as the server holds it. `order` breaks timestamp ties for LATEST: insertion
    order for stored events, GIVEN_ORDER_BASE + index for the events given to a preview."""

    transaction_id: str
    customer: str
    event_type: str
    timestamp: datetime
    properties: dict[str, Any]
    order: int


@dataclass(frozen=True)
class Line:
    name: str
    metric_id: str
    credit_type: str
    quantity: Decimal
    unit_price: Decimal
    cost: Decimal
    group_key: str | None
    group_value: str | None


@dataclass(frozen=True)
class CreditType:
    credit_type: str
    cost: Decimal
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Bucket:
    start: datetime
    end: datetime
    credit_types: tuple[CreditType, ...]


@dataclass(frozen=True)
class Invoice:
    start: datetime
    end: datetime
    lines: tuple[Line, ...]
    totals: tuple[tuple[str, Decimal], ...]


# ---------------------------------------------------------------- property values


def number_text(value: Decimal) -> str:
    """How PostgreSQL's NUMERIC writes a number: positional, scale kept, no negative zero."""
    if value.is_zero():
        value = value.copy_abs()
    return format(value, "f")


def text_of(value: Any) -> str | None:
    """A property value as the text filters, group values and UNIQUE compare."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return number_text(Decimal(repr(value)))
    raise AssertionError(f"the oracle does not model {value!r} as a property value")


def number_of(value: Any) -> Decimal | None:
    """A quantity: a JSON number, or a string holding one; anything else is ignored."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str) and NUMERIC_TEXT.fullmatch(value):
        return Decimal(value)
    return None


# ---------------------------------------------------------------- metrics


def selects(metric: Metric, event: Event) -> bool:
    """The event-type filter and every property filter pass."""
    if metric.event_in is not None and event.event_type not in metric.event_in:
        return False
    if metric.event_not_in is not None and event.event_type in metric.event_not_in:
        return False
    for item in metric.filters:
        value = text_of(event.properties.get(item.name))
        if item.exists is True and value is None:
            return False
        if item.exists is False and value is not None:
            return False
        if item.in_values is not None and (value is None or value not in item.in_values):
            return False
        if item.not_in_values is not None and value is not None and value in item.not_in_values:
            return False
    return True


def group_value(metric: Metric, event: Event) -> str:
    return ",".join(text_of(event.properties.get(k)) or "" for k in metric.group_key)


def aggregate(metric: Metric, events: Sequence[Event]) -> Decimal:
    """COUNT, SUM, MAX, LATEST or UNIQUE over events that all pass the metric's filters."""
    if metric.aggregation == "COUNT":
        return Decimal(len(events))
    assert metric.key is not None
    key = metric.key
    if metric.aggregation == "UNIQUE":
        texts = {text_of(e.properties.get(key)) for e in events}
        return Decimal(len(texts - {None}))
    numbered = [(e, n) for e in events if (n := number_of(e.properties.get(key))) is not None]
    if not numbered:
        return Decimal(0)
    with localcontext(EXACT):
        if metric.aggregation == "SUM":
            return sum((n for _, n in numbered), Decimal(0))
        if metric.aggregation == "MAX":
            return max(n for _, n in numbered)
        assert metric.aggregation == "LATEST", metric.aggregation
        _, latest = max(numbered, key=lambda item: (item[0].timestamp, item[0].order))
        return latest


def quantities(metric: Metric, events: Iterable[Event]) -> list[tuple[str | None, Decimal]]:
    """(group value, quantity) per group value seen, sorted; [] when no event passes."""
    chosen = [e for e in events if selects(metric, e)]
    if not chosen:
        return []
    if not metric.group_key:
        return [(None, aggregate(metric, chosen))]
    groups: dict[str, list[Event]] = {}
    for event in chosen:
        groups.setdefault(group_value(metric, event), []).append(event)
    return [(value, aggregate(metric, groups[value])) for value in sorted(groups)]


# ---------------------------------------------------------------- rating


def rate(charges: Iterable[Charge], events: Sequence[Event]) -> tuple[CreditType, ...]:
    """Per credit type (sorted), one line per charge (in plan order) and group value seen,
    or one zero line without a group value when the charge's metric saw no event."""
    by_credit: dict[str, list[Line]] = {}
    for charge in sorted(set(charges), key=lambda c: c.order):
        metric = charge.metric
        group_key = ",".join(metric.group_key) if metric.group_key else None
        found = quantities(metric, events) or [(None, Decimal(0))]
        for value, amount in found:
            with localcontext(EXACT):
                cost = amount * charge.unit_price
            by_credit.setdefault(charge.credit_type, []).append(
                Line(
                    name=metric.name,
                    metric_id=metric.id,
                    credit_type=charge.credit_type,
                    quantity=amount,
                    unit_price=charge.unit_price,
                    cost=cost,
                    group_key=group_key,
                    group_value=value,
                )
            )
    result = []
    for name in sorted(by_credit):
        lines = tuple(by_credit[name])
        with localcontext(EXACT):
            total = sum((line.cost for line in lines), Decimal(0))
        result.append(CreditType(name, total, lines))
    return tuple(result)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def costs(
    customer: str,
    subscriptions: Sequence[Subscription],
    events: Sequence[Event],
    starting_on: datetime,
    ending_before: datetime,
) -> list[Bucket]:
    """`Customer.costs`: one bucket per UTC day; a day's charges are those of the
    subscriptions (not PENDING) active at some moment of that day."""
    buckets = []
    day = starting_on.astimezone(UTC).date()
    while midnight(day) < ending_before:
        start, end = midnight(day), midnight(day + timedelta(days=1))
        charges = [
            charge
            for sub in subscriptions
            if sub.status not in STORED_STATUSES_EXCLUDED
            and sub.started_at < end
            and (sub.ends_at is None or sub.ends_at > start)
            for charge in sub.charges
        ]
        todays = [e for e in events if e.customer == customer and start <= e.timestamp < end]
        if charges:
            buckets.append(Bucket(start, end, rate(charges, todays)))
        day += timedelta(days=1)
    return buckets


def preview_events(
    customer: str,
    stored: Sequence[Event],
    given: Sequence[Event],
    merge: bool,
    start: datetime,
    end: datetime,
) -> list[Event]:
    """The events a preview prices: the first given event of each transaction id, inside the
    period; with MERGE also the stored events of the period, a given event whose
    transaction id is stored (for any customer of the tenant) not counted again."""
    first: dict[str, Event] = {}
    for event in given:
        first.setdefault(event.transaction_id, event)
    chosen = [e for e in first.values() if start <= e.timestamp < end]
    if not merge:
        return chosen
    known = {e.transaction_id for e in stored}
    mine = [e for e in stored if e.customer == customer and start <= e.timestamp < end]
    return mine + [e for e in chosen if e.transaction_id not in known]


def preview_invoice(
    customer: str,
    subscriptions: Sequence[Subscription],
    stored: Sequence[Event],
    given: Sequence[Event],
    merge: bool,
    skip_zero: bool,
    start: datetime,
    end: datetime,
) -> Invoice:
    """`previewInvoice`: the charges of the ACTIVE or TRIALING subscriptions over the
    period's events."""
    charges = [
        charge for sub in subscriptions if sub.status in CURRENT_STATUSES for charge in sub.charges
    ]
    events = preview_events(customer, stored, given, merge, start, end)
    credit_types = rate(charges, events)
    lines: list[Line] = []
    totals: list[tuple[str, Decimal]] = []
    for credit in credit_types:
        kept = [line for line in credit.lines if not (skip_zero and line.quantity == 0)]
        if not kept:
            continue
        lines += kept
        with localcontext(EXACT):
            totals.append((credit.credit_type, sum((line.cost for line in kept), Decimal(0))))
    return Invoice(start, end, tuple(lines), tuple(totals))
