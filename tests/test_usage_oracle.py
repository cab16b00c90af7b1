"""Costs and invoice previews against a plain-Python oracle (tests/oracle.py).

Each example builds a fresh tenant through the API: billable metrics (all five
aggregations, event-type and property filters, group keys), plans of 1-3 charges at exact
prices in two credit types, subscriptions of every status over a 10-day window, and up to
60 events ingested with `ingestUsage`; then it compares `Customer.costs` and four
`previewInvoice` calls (REPLACE and MERGE, skipping zero lines or not) with the oracle,
field by field, amounts as Decimals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import oracle
import pytest
from conftest import Api, TenantHandle, make_tenant
from helpers import create_customer, create_metric, create_plan, create_subscription
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

WINDOW_START = datetime(2024, 5, 1, tzinfo=UTC)
WINDOW_DAYS = 10
EVENT_TYPES = ("api", "storage", "compute")
TEXT_PROPERTIES = ("region", "tier")
NUMBER_PROPERTIES = ("amount", "size")
PROPERTIES = TEXT_PROPERTIES + NUMBER_PROPERTIES
FILTER_VALUES = {
    "region": ("eu", "us", "ap", "", "1", "true"),
    "tier": ("free", "pro", "0"),
    "amount": ("1", "2.5", "abc", "true", "100"),
    "size": ("0", "7", "1.5"),
}
NOT_NUMBERS = ("abc", "", "1.", ".5", "1e", "NaN", "Infinity", " 1", "1,5", "0x10", "+1", "1e1000")
GROUP_KEYS: tuple[tuple[tuple[str, ...], ...], ...] = (
    (),
    (("region",),),
    (("tier",),),
    (("region", "tier"),),
    (("tier", "region"),),
    (("region",), ("tier",)),  # only the first set groups
)
DECIMAL_TEXT = re.compile(r"-?[0-9]+\.[0-9]{2,}")

INGEST = """
mutation($events: [UsageEventInput!]!) {
  ingestUsage(input: {events: $events}) { accepted duplicates userErrors { field code message } }
}
"""
CANCEL = """
mutation($input: CancelSubscriptionInput!) {
  cancelSubscription(input: $input) {
    subscription { status startedAt endsAt } userErrors { field code message }
  }
}
"""
COST_FIELDS = """
  costs(startingOn: $s, endingBefore: $e) {
    startTimestamp endTimestamp
    creditTypes {
      creditType cost
      lineItems { name quantity unitPrice cost groupKey groupValue billableMetric { id } }
    }
  }
"""
COSTS_BY_NODE = f"""
query($id: ID!, $s: DateTime!, $e: DateTime!) {{ node(id: $id) {{ ... on Customer {{
  {COST_FIELDS} }} }} }}
"""
COSTS_BY_CUSTOMER = f"""
query($id: ID!, $s: DateTime!, $e: DateTime!) {{ customer(id: $id) {{ {COST_FIELDS} }} }}
"""
PREVIEW = """
query(
  $id: ID!, $events: [UsageEventInput!]!, $mode: PreviewMode, $skip: Boolean,
  $s: DateTime, $e: DateTime
) {
  previewInvoice(
    customerId: $id, events: $events, mode: $mode, skipZeroQuantityLineItems: $skip,
    startingOn: $s, endingBefore: $e
  ) {
    customer { id } startTimestamp endTimestamp
    lineItems {
      name creditType quantity unitPrice total groupKey groupValue billableMetric { id }
    }
    totals { creditType total }
  }
}
"""


# ---------------------------------------------------------------- drafts (what hypothesis draws)


@dataclass(frozen=True)
class MetricDraft:
    aggregation: str
    key: str | None
    event_in: tuple[str, ...] | None
    event_not_in: tuple[str, ...] | None
    filters: tuple[oracle.PropertyFilter, ...]
    group_keys: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class ChargeDraft:
    metric: int
    unit_price: Decimal
    credit_type: str | None  # None: the default (USD)


@dataclass(frozen=True)
class SubscriptionDraft:
    plan: int
    status: str
    started_at: datetime
    ends_at: datetime | None
    canceled_at: datetime | None  # CANCELED: created ACTIVE, then canceled at this moment


@dataclass(frozen=True)
class EventDraft:
    transaction_id: str
    reference: str  # id, handle, HANDLE, external, alias, other
    event_type: str
    timestamp: datetime | None  # None: omitted (the server's now)
    offset: bool  # written with a +02:00 offset instead of Z
    properties: dict[str, Any] | None  # None: omitted


@dataclass(frozen=True)
class Scenario:
    metrics: tuple[MetricDraft, ...]
    plans: tuple[tuple[ChargeDraft, ...], ...]
    subscriptions: tuple[SubscriptionDraft, ...]
    batches: tuple[tuple[EventDraft, ...], ...]
    other_events: tuple[EventDraft, ...]
    costs_by_node: bool
    costs_start: datetime
    costs_end: datetime
    given: tuple[EventDraft, ...]
    period_start: datetime
    period_end: datetime


def decimals(
    max_digits: int, max_scale: int, min_value: int = -(10**9)
) -> st.SearchStrategy[Decimal]:
    """Exact decimals with at most `max_scale` digits after the point."""
    return st.builds(
        lambda mantissa, scale: Decimal(mantissa).scaleb(-scale),
        st.integers(min_value, 10**max_digits),
        st.integers(0, max_scale),
    )


def plain_float(value: Decimal) -> float | int:
    """A JSON number for `value`; an int where a float's repr would use an exponent."""
    as_float = float(value)
    if as_float == 0 or not 1e-4 <= abs(as_float) < 1e15:
        return int(value)
    return as_float


def numeric_strings() -> st.SearchStrategy[str]:
    return st.one_of(
        decimals(9, 6).map(str),
        decimals(9, 6).map(lambda d: format(d, "f")),
        st.builds(lambda m, e: f"{m}e{e}", st.integers(-999, 999), st.integers(-6, 6)),
        st.builds(lambda m, e: f"{m}.5E+{e}", st.integers(0, 99), st.integers(0, 3)),
    )


def property_values(name: str) -> st.SearchStrategy[Any]:
    if name in TEXT_PROPERTIES:
        return st.one_of(
            st.sampled_from(FILTER_VALUES[name]),
            st.sampled_from(("eu", "us", "free", "pro")),
            st.sampled_from((None, True, False, 1, 0)),
        )
    return st.one_of(
        st.integers(-1000, 10**6),
        decimals(9, 6).map(plain_float),
        decimals(4, 2).map(plain_float),
        numeric_strings(),
        st.sampled_from(NOT_NUMBERS),
        st.sampled_from((None, True, False)),
    )


PROPERTY_DICTS = st.one_of(
    st.fixed_dictionaries({}, optional={n: property_values(n) for n in PROPERTIES}),
    st.fixed_dictionaries(
        {n: property_values(n) for n in NUMBER_PROPERTIES},
        optional={n: property_values(n) for n in TEXT_PROPERTIES},
    ),
)


# moments many events share, so that LATEST has timestamp ties to break
SHARED_MOMENTS = (
    datetime(2024, 5, 2, 12, tzinfo=UTC),
    datetime(2024, 5, 3, 0, 0, 0, 1, tzinfo=UTC),
    datetime(2024, 5, 4, 23, 59, 59, 999999, tzinfo=UTC),
)


def moments(first_day: datetime, days: int) -> st.SearchStrategy[datetime]:
    """Times of `days` days from midnight `first_day`: often a midnight, a shared moment or
    a whole hour, sometimes any microsecond."""
    return st.one_of(
        st.integers(0, days).map(lambda d: first_day + timedelta(days=d)),
        st.sampled_from(SHARED_MOMENTS),
        st.integers(0, days * 24).map(lambda h: first_day + timedelta(hours=h)),
        st.integers(0, days * 24 * 3600 * 10**6).map(
            lambda us: first_day + timedelta(microseconds=us)
        ),
    )


EVENT_TIMES = st.one_of(
    st.sampled_from(SHARED_MOMENTS), moments(WINDOW_START - timedelta(days=1), WINDOW_DAYS + 2)
)


def later(moment: datetime) -> st.SearchStrategy[datetime]:
    """A moment 1 hour to 8 days after `moment`, often a midnight."""
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return st.one_of(
        st.integers(1, 8).map(lambda d: midnight + timedelta(days=d)),
        st.builds(
            lambda h, m: moment + timedelta(hours=h, minutes=m),
            st.integers(1, 8 * 24),
            st.integers(0, 59),
        ),
    )


@st.composite
def event_drafts(draw: st.DrawFn, transaction_id: str, reference: str) -> EventDraft:
    return EventDraft(
        transaction_id=transaction_id,
        reference=reference,
        event_type=draw(st.sampled_from(EVENT_TYPES)),
        timestamp=draw(EVENT_TIMES),
        offset=draw(st.booleans()),
        properties=draw(st.one_of(PROPERTY_DICTS, st.none())),
    )


@st.composite
def property_filters(draw: st.DrawFn, name: str) -> oracle.PropertyFilter:
    values = FILTER_VALUES[name]
    subset = st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True).map(tuple)
    kind = draw(st.sampled_from(("none", "none", "exists", "in", "not_in", "exists_not_in")))
    if kind == "exists":
        return oracle.PropertyFilter(name, exists=draw(st.booleans()))
    if kind == "in":
        return oracle.PropertyFilter(name, in_values=draw(subset))
    if kind == "not_in":
        return oracle.PropertyFilter(name, not_in_values=draw(subset))
    if kind == "exists_not_in":
        return oracle.PropertyFilter(name, exists=True, not_in_values=draw(subset))
    return oracle.PropertyFilter(name)


@st.composite
def metric_drafts(draw: st.DrawFn) -> MetricDraft:
    aggregation = draw(st.sampled_from(("COUNT", "SUM", "MAX", "LATEST", "UNIQUE")))
    if aggregation == "COUNT":
        key = draw(st.one_of(st.none(), st.sampled_from(NUMBER_PROPERTIES)))
    elif aggregation == "UNIQUE":
        key = draw(st.sampled_from(PROPERTIES))
    else:
        key = draw(st.sampled_from(NUMBER_PROPERTIES))
    group_keys: tuple[tuple[str, ...], ...] = draw(st.sampled_from(GROUP_KEYS))
    named = {*(n for g in group_keys for n in g), *([key] if key else [])}
    named |= set(draw(st.lists(st.sampled_from(PROPERTIES), max_size=2)))
    filters = tuple(draw(property_filters(name)) for name in sorted(named))
    types = st.lists(st.sampled_from(EVENT_TYPES), min_size=1, max_size=2, unique=True).map(tuple)
    return MetricDraft(
        aggregation=aggregation,
        key=key,
        event_in=draw(st.one_of(st.none(), st.none(), types)),
        event_not_in=draw(st.one_of(st.none(), st.none(), types)),
        filters=filters,
        group_keys=group_keys,
    )


@st.composite
def subscription_drafts(draw: st.DrawFn, plans: int) -> SubscriptionDraft:
    status = draw(
        st.sampled_from(("ACTIVE", "TRIALING", "PENDING", "PAST_DUE", "EXPIRED", "CANCELED"))
    )
    started_at = draw(moments(WINDOW_START - timedelta(days=1), WINDOW_DAYS + 1))
    ends_at = draw(st.one_of(st.none(), later(started_at)))
    canceled_at = draw(later(started_at)) if status == "CANCELED" else None
    return SubscriptionDraft(
        draw(st.integers(0, plans - 1)), status, started_at, ends_at, canceled_at
    )


REFERENCES = st.sampled_from(("id", "handle", "HANDLE", "external", "alias"))


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    metrics = tuple(draw(st.lists(metric_drafts(), min_size=1, max_size=3)))
    charge = st.builds(
        ChargeDraft,
        st.integers(0, len(metrics) - 1),
        decimals(8, 6, min_value=0),
        st.sampled_from((None, "USD", "credits")),
    )
    plans = tuple(
        tuple(p)
        for p in draw(st.lists(st.lists(charge, min_size=1, max_size=3), min_size=1, max_size=2))
    )
    subscriptions = tuple(draw(st.lists(subscription_drafts(len(plans)), min_size=1, max_size=3)))
    count = draw(st.integers(0, 60))
    events: list[EventDraft] = []
    for n in range(count):
        # a few transaction ids repeat (with other content): the first one is stored
        repeat = n > 0 and draw(st.integers(0, 9)) == 0
        tid = events[draw(st.integers(0, n - 1))].transaction_id if repeat else f"t{n}"
        events.append(draw(event_drafts(tid, draw(REFERENCES))))
    split = draw(st.integers(0, count))
    first, second = tuple(events[:split]), tuple(events[split:])
    # a retried call: its events are all duplicates
    retried = (first,) if draw(st.integers(0, 3)) == 0 else ()
    batches = tuple(b for b in (first, second, *retried) if b)
    other = tuple(draw(event_drafts(f"o{n}", "other")) for n in range(draw(st.integers(0, 5))))
    costs_start = WINDOW_START + timedelta(days=draw(st.integers(-1, 4)))
    costs_end = WINDOW_START + timedelta(
        days=draw(st.integers(max(0, (costs_start - WINDOW_START).days + 1), WINDOW_DAYS + 1))
    )
    period_start = draw(moments(WINDOW_START - timedelta(days=1), 6))
    period_end = draw(later(period_start))
    given: list[EventDraft] = []
    for n in range(draw(st.integers(0, 12))):
        choice = draw(st.integers(0, 4))
        if choice == 0 and events:  # a stored transaction id, other content
            tid = events[draw(st.integers(0, len(events) - 1))].transaction_id
        elif choice == 1 and given:  # repeated within the list
            tid = given[draw(st.integers(0, len(given) - 1))].transaction_id
        else:
            tid = f"g{n}"
        draft = draw(event_drafts(tid, draw(REFERENCES)))
        if draw(st.integers(0, 9)) == 0:
            draft = replace(draft, timestamp=None)  # now: outside the (past) period
        given.append(draft)
    return Scenario(
        metrics=metrics,
        plans=plans,
        subscriptions=subscriptions,
        batches=batches,
        other_events=other,
        costs_by_node=draw(st.booleans()),
        costs_start=costs_start,
        costs_end=costs_end,
        given=tuple(given),
        period_start=period_start,
        period_end=period_end,
    )


# ---------------------------------------------------------------- building through the API


def rfc3339(moment: datetime, offset: bool = False) -> str:
    if offset:
        return moment.astimezone(timezone(timedelta(hours=2))).isoformat()
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class World:
    customer: dict[str, Any]
    references: dict[str, str]
    metrics: list[oracle.Metric]
    subscriptions: list[oracle.Subscription]


def metric_input(index: int, draft: MetricDraft) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": f"metric-{index}",
        "aggregationType": draft.aggregation,
        "aggregationKey": draft.key,
        "propertyFilters": [
            {
                "name": f.name,
                "exists": f.exists,
                "inValues": None if f.in_values is None else list(f.in_values),
                "notInValues": None if f.not_in_values is None else list(f.not_in_values),
            }
            for f in draft.filters
        ],
        "groupKeys": [list(g) for g in draft.group_keys],
    }
    if draft.event_in is not None or draft.event_not_in is not None:
        values["eventTypeFilter"] = {
            "inValues": None if draft.event_in is None else list(draft.event_in),
            "notInValues": None if draft.event_not_in is None else list(draft.event_not_in),
        }
    return values


async def build(api: Api, scenario: Scenario) -> World:
    customer = await create_customer(
        api,
        displayName="Metered",
        handle="metered",
        externalId="ext-metered",
        ingestAliases=["Alias-M"],
    )
    other = await create_customer(api, displayName="Other", handle="other")
    references = {
        "id": customer["id"],
        "handle": "metered",
        "HANDLE": "METERED",
        "external": "ext-metered",
        "alias": "alias-m",
        "other": other["id"],
    }
    metrics = []
    for index, draft in enumerate(scenario.metrics):
        created = await create_metric(api, **metric_input(index, draft))
        metrics.append(
            oracle.Metric(
                id=created["id"],
                name=created["name"],
                aggregation=draft.aggregation,
                key=draft.key,
                event_in=draft.event_in,
                event_not_in=draft.event_not_in,
                filters=draft.filters,
                group_keys=draft.group_keys,
            )
        )
    plans: list[tuple[str, tuple[oracle.Charge, ...]]] = []
    for plan_index, charges in enumerate(scenario.plans):
        inputs = []
        for c in charges:
            item = {"billableMetricId": metrics[c.metric].id, "unitPrice": str(c.unit_price)}
            if c.credit_type is not None:
                item["creditType"] = c.credit_type
            inputs.append(item)
        plan = await create_plan(api, name=f"plan-{plan_index}", charges=inputs)
        assert [Decimal(c["unitPrice"]) for c in plan["charges"]] == [c.unit_price for c in charges]
        plans.append(
            (
                plan["id"],
                tuple(
                    oracle.Charge(
                        metrics[c.metric],
                        c.unit_price,
                        c.credit_type or "USD",
                        (plan_index, position),
                    )
                    for position, c in enumerate(charges)
                ),
            )
        )
    subscriptions = []
    for sub in scenario.subscriptions:
        plan_id, plan_charges = plans[sub.plan]
        fields: dict[str, Any] = {"startedAt": rfc3339(sub.started_at)}
        if sub.ends_at is not None:
            fields["endsAt"] = rfc3339(sub.ends_at)
        fields["status"] = "ACTIVE" if sub.status == "CANCELED" else sub.status
        created = await create_subscription(api, customer["id"], plan_id, **fields)
        ends_at = sub.ends_at
        if sub.canceled_at is not None:
            data = await api.data(
                CANCEL, {"input": {"id": created["id"], "at": rfc3339(sub.canceled_at)}}
            )
            payload = data["cancelSubscription"]
            assert payload["userErrors"] == [], payload
            # canceling ends the subscription then, unless it already ended earlier
            ends_at = sub.canceled_at if ends_at is None else min(ends_at, sub.canceled_at)
            assert payload["subscription"]["status"] == "CANCELED"
            assert payload["subscription"]["endsAt"] == rfc3339(ends_at)
        subscriptions.append(oracle.Subscription(plan_charges, sub.status, sub.started_at, ends_at))
    return World(customer, references, metrics, subscriptions)


def event_input(draft: EventDraft, references: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "transactionId": draft.transaction_id,
        "customerId": references[draft.reference],
        "eventType": draft.event_type,
    }
    if draft.timestamp is not None:
        values["timestamp"] = rfc3339(draft.timestamp, draft.offset)
    if draft.properties is not None:
        values["properties"] = draft.properties
    return values


def oracle_event(draft: EventDraft, order: int) -> oracle.Event:
    customer = "other" if draft.reference == "other" else "metered"
    return oracle.Event(
        transaction_id=draft.transaction_id,
        customer=customer,
        event_type=draft.event_type,
        timestamp=draft.timestamp or datetime.now(UTC),
        properties={k: v for k, v in (draft.properties or {}).items() if v is not None},
        order=order,
    )


async def ingest(api: Api, scenario: Scenario, references: dict[str, str]) -> list[oracle.Event]:
    """Ingest the batches (and the other customer's events); returns what is stored."""
    stored: dict[str, oracle.Event] = {}
    for batch in (*scenario.batches, scenario.other_events):
        if not batch:
            continue
        fresh = {d.transaction_id for d in batch} - set(stored)
        for draft in batch:
            if draft.transaction_id not in stored:
                stored[draft.transaction_id] = oracle_event(draft, len(stored))
        events = [event_input(d, references) for d in batch]
        data = await api.data(INGEST, {"events": events})
        assert data["ingestUsage"] == {
            "accepted": len(fresh),
            "duplicates": len(batch) - len(fresh),
            "userErrors": [],
        }
    return list(stored.values())


# ---------------------------------------------------------------- comparing


def amount(text: Any) -> Decimal:
    """A Decimal as answered: a string with at least two decimals ("12.50"), never a float."""
    assert isinstance(text, str) and DECIMAL_TEXT.fullmatch(text), text
    return Decimal(text)


def moment(text: Any) -> datetime:
    assert isinstance(text, str) and text.endswith("Z"), text
    return datetime.fromisoformat(text)


Row = tuple[Any, ...]


def cost_line(item: dict[str, Any]) -> Row:
    return (
        item["name"],
        item["billableMetric"]["id"],
        amount(item["quantity"]),
        amount(item["unitPrice"]),
        amount(item["cost"]),
        item["groupKey"],
        item["groupValue"],
    )


def expected_cost_line(line: oracle.Line) -> Row:
    return (
        line.name,
        line.metric_id,
        line.quantity,
        line.unit_price,
        line.cost,
        line.group_key,
        line.group_value,
    )


def actual_buckets(buckets: list[dict[str, Any]]) -> list[Row]:
    return [
        (
            moment(b["startTimestamp"]),
            moment(b["endTimestamp"]),
            [
                (c["creditType"], amount(c["cost"]), [cost_line(i) for i in c["lineItems"]])
                for c in b["creditTypes"]
            ],
        )
        for b in buckets
    ]


def expected_buckets(buckets: list[oracle.Bucket]) -> list[Row]:
    return [
        (
            b.start,
            b.end,
            [
                (c.credit_type, c.cost, [expected_cost_line(line) for line in c.lines])
                for c in b.credit_types
            ],
        )
        for b in buckets
    ]


def actual_invoice(invoice: dict[str, Any]) -> Row:
    lines = [
        (item["creditType"], *cost_line({**item, "cost": item["total"]}))
        for item in invoice["lineItems"]
    ]
    totals = [(t["creditType"], amount(t["total"])) for t in invoice["totals"]]
    return (moment(invoice["startTimestamp"]), moment(invoice["endTimestamp"]), lines, totals)


def expected_invoice(invoice: oracle.Invoice) -> Row:
    lines = [(line.credit_type, *expected_cost_line(line)) for line in invoice.lines]
    return (invoice.start, invoice.end, lines, list(invoice.totals))


def explain(scenario: Scenario, stored: list[oracle.Event]) -> str:
    return f"scenario={scenario!r}\nstored={stored!r}"


# ---------------------------------------------------------------- the property


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
async def test_costs_and_previews_match_the_oracle(
    app: Starlette, client: httpx.AsyncClient, scenario: Scenario
) -> None:
    tenant: TenantHandle = await make_tenant(app, client)  # examples never see each other
    api = tenant.api
    world = await build(api, scenario)
    stored = await ingest(api, scenario, world.references)
    customer_id = world.customer["id"]

    given_events = [
        oracle_event(d, oracle.GIVEN_ORDER_BASE + i) for i, d in enumerate(scenario.given)
    ]
    given_inputs = [event_input(d, world.references) for d in scenario.given]
    for mode in ("REPLACE", "MERGE"):
        for skip in (False, True):
            variables = {
                "id": customer_id,
                "events": given_inputs,
                "mode": mode,
                "skip": skip,
                "s": rfc3339(scenario.period_start),
                "e": rfc3339(scenario.period_end),
            }
            invoice = (await api.data(PREVIEW, variables))["previewInvoice"]
            assert invoice["customer"] == {"id": customer_id}
            expected = oracle.preview_invoice(
                "metered",
                world.subscriptions,
                stored,
                given_events,
                merge=mode == "MERGE",
                skip_zero=skip,
                start=scenario.period_start,
                end=scenario.period_end,
            )
            assert actual_invoice(invoice) == expected_invoice(expected), (
                f"{mode} skip={skip}\n{explain(scenario, stored)}"
            )

    # after the previews, which store nothing
    query = COSTS_BY_NODE if scenario.costs_by_node else COSTS_BY_CUSTOMER
    variables = {
        "id": customer_id,
        "s": rfc3339(scenario.costs_start),
        "e": rfc3339(scenario.costs_end),
    }
    data = await api.data(query, variables)
    buckets = data["node" if scenario.costs_by_node else "customer"]["costs"]
    expected_costs = oracle.costs(
        "metered", world.subscriptions, stored, scenario.costs_start, scenario.costs_end
    )
    assert actual_buckets(buckets) == expected_buckets(expected_costs), explain(scenario, stored)


# ---------------------------------------------------------------- examples the oracle must agree on

TIE = datetime(2024, 5, 2, 12, tzinfo=UTC)


async def latest_setup(api: Api) -> tuple[str, oracle.Subscription]:
    """A customer on a plan charging 1 USD per unit of LATEST(v)."""
    customer = await create_customer(api, displayName="Latest", handle="latest")
    draft = MetricDraft("LATEST", "v", None, None, (oracle.PropertyFilter("v"),), ())
    created = await create_metric(api, **metric_input(0, draft))
    metric = oracle.Metric(created["id"], "metric-0", "LATEST", "v", None, None, draft.filters, ())
    plan = await create_plan(api, charges=[{"billableMetricId": metric.id, "unitPrice": "1"}])
    await create_subscription(api, customer["id"], plan["id"], startedAt="2024-05-01T00:00:00Z")
    charge = oracle.Charge(metric, Decimal(1), "USD", (0, 0))
    return customer["id"], oracle.Subscription((charge,), "ACTIVE", WINDOW_START, None)


def tied(tid: str, value: Any, moment: datetime = TIE, offset: bool = False) -> EventDraft:
    return EventDraft(tid, "handle", "api", moment, offset, {"v": value})


async def test_latest_breaks_timestamp_ties_by_insertion_order(tenant: TenantHandle) -> None:
    """LATEST takes the latest event by timestamp, then the later inserted: later in the list
    of one call, or from a later call; a preview's given events come after stored ones."""
    api = tenant.api
    customer_id, subscription = await latest_setup(api)
    references = {"handle": "latest"}
    first = [tied("a", 1), tied("b", "2.5"), tied("c", "x"), tied("d", 0.5, TIE - timedelta(1))]
    second = [tied("e", 3, offset=True), tied("f", True)]  # e: 14:00+02:00, the same moment
    scenario = Scenario(
        (), (), (), (tuple(first), tuple(second)), (), False, TIE, TIE, (), TIE, TIE
    )
    stored = await ingest(api, scenario, references)
    day = {"id": customer_id, "s": "2024-05-02T00:00:00Z", "e": "2024-05-03T00:00:00Z"}
    data = await api.data(COSTS_BY_NODE, day)
    [line] = data["node"]["costs"][0]["creditTypes"][0]["lineItems"]
    assert line["quantity"] == "3.00"
    end = WINDOW_START + timedelta(days=WINDOW_DAYS)
    for events_given, merge, quantity in (
        ([tied("g1", 5), tied("g2", 4), tied("g3", "no")], False, "4.00"),
        ([tied("g1", 5), tied("g2", "4")], True, "4.00"),
        ([tied("g1", 7, TIE - timedelta(seconds=1))], True, "3.00"),
        ([tied("a", 9), tied("g1", 6, TIE - timedelta(microseconds=1))], True, "3.00"),
        ([tied("a", 9), tied("g1", 6, TIE - timedelta(microseconds=1))], False, "9.00"),
        ([tied("g1", 8, end), tied("g2", 2, WINDOW_START)], False, "2.00"),
    ):
        variables: dict[str, Any] = {
            "id": customer_id,
            "events": [event_input(d, references) for d in events_given],
            "mode": "MERGE" if merge else "REPLACE",
            "skip": False,
            "s": rfc3339(WINDOW_START),
            "e": rfc3339(end),
        }
        invoice = (await api.data(PREVIEW, variables))["previewInvoice"]
        assert [i["quantity"] for i in invoice["lineItems"]] == [quantity], (events_given, merge)
        events = [oracle_event(d, oracle.GIVEN_ORDER_BASE + i) for i, d in enumerate(events_given)]
        model = oracle.preview_invoice(
            "metered", [subscription], stored, events, merge, False, WINDOW_START, end
        )
        assert [line.quantity for line in model.lines] == [Decimal(quantity)]

    # within one call the list order decides, whatever the transaction ids
    later_tie = TIE + timedelta(hours=1)
    third = (tied("z", 7, later_tie), tied("y", 8, later_tie), tied("x", "no", later_tie))
    scenario = replace(scenario, batches=(third,))
    await ingest(api, scenario, references)
    data = await api.data(COSTS_BY_NODE, day)
    [line] = data["node"]["costs"][0]["creditTypes"][0]["lineItems"]
    assert line["quantity"] == "8.00"


async def test_numbers_compare_as_their_decimal_text_on_both_databases(
    tenant: TenantHandle, backend: str, request: pytest.FixtureRequest
) -> None:
    """A JSON number's text (UNIQUE, filters, group values) is the number as written, without
    exponent or negative zero: 0.00001 is "0.00001" whether it was sent as a number or a
    string, 1e16 is "10000000000000000" and -0.0 is "0.0", on both databases and for stored
    and given events alike (PostgreSQL's jsonb writes numbers so)."""
    api = tenant.api
    customer = await create_customer(api, displayName="Numbers", handle="numbers")
    draft = MetricDraft(
        "UNIQUE", "v", None, None, (oracle.PropertyFilter("v"), oracle.PropertyFilter("g")), ()
    )
    unique = await create_metric(api, **metric_input(0, draft))
    grouped = await create_metric(
        api, **metric_input(1, replace(draft, aggregation="COUNT", group_keys=(("g",),)))
    )
    charges = [{"billableMetricId": m["id"], "unitPrice": "1"} for m in (unique, grouped)]
    plan = await create_plan(api, charges=charges)
    await create_subscription(api, customer["id"], plan["id"], startedAt="2024-05-01T00:00:00Z")
    properties: list[dict[str, Any]] = [
        {"v": 0.00001, "g": 0.00001},
        {"v": "0.00001", "g": "0.00001"},
        {"v": 1e16, "g": 1e16},
        {"v": -0.0},
        {"v": "10000000000000000"},
        {"v": 2.5e-7},
        {"v": "0.0"},
    ]
    stored = [
        {
            "transactionId": f"n{i}",
            "customerId": "numbers",
            "eventType": "api",
            "timestamp": "2024-05-02T00:00:00Z",
            "properties": p,
        }
        for i, p in enumerate(properties)
    ]
    await api.data(INGEST, {"events": stored[:4]})
    given = [{**e, "transactionId": f"g{i}"} for i, e in enumerate(stored[4:])]
    variables = {
        "id": customer["id"],
        "events": given,
        "mode": "MERGE",
        "skip": True,
        "s": "2024-05-01T00:00:00Z",
        "e": "2024-05-11T00:00:00Z",
    }
    invoice = (await api.data(PREVIEW, variables))["previewInvoice"]
    lines = [(i["name"], i["groupValue"], i["quantity"]) for i in invoice["lineItems"]]
    assert lines == [
        ("metric-0", None, "4.00"),  # 0.00001, 10000000000000000, 0.0, 0.00000025
        ("metric-1", "", "4.00"),
        ("metric-1", "0.00001", "2.00"),
        ("metric-1", "10000000000000000", "1.00"),
    ]
    assert {oracle.text_of(p["v"]) for p in properties} == {
        "0.00001",
        "10000000000000000",
        "0.0",
        "0.00000025",
    }


async def test_group_values_join_the_first_group_key_set(tenant: TenantHandle) -> None:
    """Lines per value of the first group key set, its properties' texts joined by ","
    (absent: empty); a charge's metric without events that day has one zero line."""
    api = tenant.api
    customer = await create_customer(api, displayName="Groups", handle="groups")
    filters = (oracle.PropertyFilter("region"), oracle.PropertyFilter("tier"))
    draft = MetricDraft("COUNT", None, None, None, filters, (("region", "tier"), ("tier",)))
    grouped = await create_metric(api, **metric_input(0, draft))
    other = await create_metric(api, **metric_input(1, replace(draft, event_in=("none",))))
    charges = [
        {"billableMetricId": grouped["id"], "unitPrice": "0.25", "creditType": "credits"},
        {"billableMetricId": other["id"], "unitPrice": "3"},
    ]
    plan = await create_plan(api, charges=charges)
    await create_subscription(api, customer["id"], plan["id"], startedAt="2024-05-01T00:00:00Z")
    properties: list[dict[str, Any]] = [
        {"region": "eu", "tier": "pro"},
        {"region": "eu", "tier": "pro"},
        {"region": "eu"},
        {"tier": None},
        {"region": True, "tier": 2},
    ]
    events = [
        {
            "transactionId": f"t{i}",
            "customerId": "groups",
            "eventType": "api",
            "timestamp": "2024-05-02T08:00:00Z",
            "properties": p,
        }
        for i, p in enumerate(properties)
    ]
    await api.data(INGEST, {"events": events})
    variables = {"id": customer["id"], "s": "2024-05-02T00:00:00Z", "e": "2024-05-03T00:00:00Z"}
    [bucket] = (await api.data(COSTS_BY_CUSTOMER, variables))["customer"]["costs"]
    found = [
        (
            credit["creditType"],
            credit["cost"],
            [(i["groupKey"], i["groupValue"], i["cost"]) for i in credit["lineItems"]],
        )
        for credit in bucket["creditTypes"]
    ]
    assert found == [
        ("USD", "0.00", [("region,tier", None, "0.00")]),
        (
            "credits",
            "1.25",
            [
                ("region,tier", ",", "0.25"),
                ("region,tier", "eu,", "0.25"),
                ("region,tier", "eu,pro", "0.50"),
                ("region,tier", "true,2", "0.25"),
            ],
        ),
    ]
