"""ingestUsage end to end, and the request-level rules of costs and previewInvoice.

All-or-nothing validation with indexed userErrors, the 1,000-event limit, customer
resolution (global ID, handle, externalId, ingest alias; never archived customers or
another tenant's), safe retries and concurrent calls, exact money on both databases,
scopes, and statement counts that do not grow with the number of events or days.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from conftest import Api, TenantHandle, assert_statements, count_statements
from helpers import (
    archive_customer,
    create_customer,
    create_metric,
    create_plan,
    create_subscription,
    single_error,
)
from starlette.applications import Starlette

INGEST = """
mutation($events: [UsageEventInput!]!) {
  ingestUsage(input: {events: $events}) { accepted duplicates userErrors { field code message } }
}
"""
COSTS = """
query($id: ID!, $s: DateTime!, $e: DateTime!) {
  customer(id: $id) {
    costs(startingOn: $s, endingBefore: $e) {
      startTimestamp endTimestamp
      creditTypes { creditType cost lineItems { name quantity unitPrice cost groupValue } }
    }
  }
}
"""
PREVIEW = """
query($id: ID!, $events: [UsageEventInput!]!, $mode: PreviewMode, $s: DateTime, $e: DateTime) {
  previewInvoice(
    customerId: $id, events: $events, mode: $mode, startingOn: $s, endingBefore: $e
  ) {
    lineItems { name quantity unitPrice total groupValue }
    totals { creditType total }
  }
}
"""
MAY = "2024-05-01T00:00:00Z"
JUNE = "2024-06-01T00:00:00Z"
DAY = "2024-05-02T10:00:00Z"


def event(
    transaction_id: str, customer: str = "acme", *, timestamp: str | None = DAY, **fields: Any
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "transactionId": transaction_id,
        "customerId": customer,
        "eventType": "api",
        **fields,
    }
    if timestamp is not None:
        values["timestamp"] = timestamp
    return values


def many(count: int, prefix: str = "t", customer: str = "acme") -> list[dict[str, Any]]:
    return [event(f"{prefix}{n}", customer) for n in range(count)]


async def ingest(api: Api, events: list[dict[str, Any]]) -> dict[str, Any]:
    payload: dict[str, Any] = (await api.data(INGEST, {"events": events}))["ingestUsage"]
    return payload


async def metered_customer(
    api: Api, aggregation: str = "COUNT", price: str = "1", **customer: Any
) -> str:
    """A customer (handle "acme" unless given) on a plan charging `price` per unit of a
    metric (COUNT of every event, or SUM/MAX/... of the property "v")."""
    customer.setdefault("handle", "acme")
    created = await create_customer(api, displayName="Acme", **customer)
    key: dict[str, Any] = {}
    if aggregation != "COUNT":
        key = {"aggregationKey": "v", "propertyFilters": [{"name": "v"}]}
    metric = await create_metric(api, name="usage", aggregationType=aggregation, **key)
    plan = await create_plan(api, charges=[{"billableMetricId": metric["id"], "unitPrice": price}])
    await create_subscription(api, created["id"], plan["id"], startedAt="2024-01-01T00:00:00Z")
    customer_id: str = created["id"]
    return customer_id


async def stored_quantity(api: Api, customer_id: str) -> str:
    """The customer's stored quantity in May 2024 (a MERGE preview with no given events)."""
    variables = {"id": customer_id, "events": [], "mode": "MERGE", "s": MAY, "e": JUNE}
    invoice = (await api.data(PREVIEW, variables))["previewInvoice"]
    [line] = invoice["lineItems"]
    quantity: str = line["quantity"]
    return quantity


def problems(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    assert payload["accepted"] == 0 and payload["duplicates"] == 0, payload
    assert all(error["message"] for error in payload["userErrors"]), payload
    return [(error["field"], error["code"]) for error in payload["userErrors"]]


# ---------------------------------------------------------------- validation


async def test_one_bad_event_among_many_stores_nothing_and_every_problem_has_its_index(
    tenant: TenantHandle,
) -> None:
    api = tenant.api
    customer_id = await metered_customer(api)
    events = many(30)
    events[3]["transactionId"] = ""
    events[7]["customerId"] = "nobody"
    events[11]["eventType"] = "   "
    events[15]["properties"] = [1, 2]
    events[19]["transactionId"] = "x" * 129
    events[23].update(customerId="nobody-else", properties={"k": "a\x00b"})
    events[27]["customerId"] = ""
    payload = await ingest(api, events)
    at = ["input", "events"]
    assert problems(payload) == [
        ([*at, "3", "transactionId"], "REQUIRED"),
        ([*at, "7", "customerId"], "NOT_FOUND"),
        ([*at, "11", "eventType"], "REQUIRED"),
        ([*at, "15", "properties"], "INVALID"),
        ([*at, "19", "transactionId"], "TOO_LONG"),
        ([*at, "23", "properties"], "INVALID"),
        ([*at, "23", "customerId"], "NOT_FOUND"),
        ([*at, "27", "customerId"], "REQUIRED"),
    ]
    assert await stored_quantity(api, customer_id) == "0.00"
    good = [e for n, e in enumerate(events) if n not in {3, 7, 11, 15, 19, 23, 27}]
    assert await ingest(api, good) == {"accepted": 23, "duplicates": 0, "userErrors": []}
    assert await stored_quantity(api, customer_id) == "23.00"


async def test_an_unknown_customer_alone_stores_nothing(tenant: TenantHandle) -> None:
    api = tenant.api
    customer_id = await metered_customer(api)
    events = [*many(5), event("x", "nobody")]
    assert problems(await ingest(api, events)) == [
        (["input", "events", "5", "customerId"], "NOT_FOUND")
    ]
    assert await stored_quantity(api, customer_id) == "0.00"


async def test_more_than_1000_events_is_limit_exceeded_and_1000_are_accepted(
    tenant: TenantHandle,
) -> None:
    api = tenant.api
    customer_id = await metered_customer(api)
    payload = await ingest(api, many(1001))
    assert problems(payload) == [(["input", "events"], "LIMIT_EXCEEDED")]
    assert await stored_quantity(api, customer_id) == "0.00"
    assert await ingest(api, many(1000)) == {"accepted": 1000, "duplicates": 0, "userErrors": []}
    assert await stored_quantity(api, customer_id) == "1000.00"


async def test_properties_must_be_a_plain_json_object_of_at_most_100_properties(
    tenant: TenantHandle,
) -> None:
    api = tenant.api
    customer_id = await metered_customer(api)
    bad: list[tuple[Any, str]] = [
        ("text", "INVALID"),
        (5, "INVALID"),
        ([{"a": 1}], "INVALID"),
        (True, "INVALID"),
        ({"a": "nul \x00 inside"}, "INVALID"),
        ({"nul \x00 key": 1}, "INVALID"),
        ({"a": {"b": ["deep \x00"]}}, "INVALID"),
        ({f"p{n}": n for n in range(101)}, "LIMIT_EXCEEDED"),
    ]
    events = [event(f"b{n}", properties=value) for n, (value, _) in enumerate(bad)]
    assert problems(await ingest(api, events)) == [
        (["input", "events", str(n), "properties"], code) for n, (_, code) in enumerate(bad)
    ]
    good = [
        event("g0", properties={f"p{n}": n for n in range(100)}),
        event("g1", properties=None),
        event("g2", properties={}),
        event("g3", properties={"nested": {"list": [1, "two", None, True]}, "unicode": "é😀"}),
    ]
    assert await ingest(api, good) == {"accepted": 4, "duplicates": 0, "userErrors": []}
    assert await stored_quantity(api, customer_id) == "4.00"


async def test_json_numbers_are_never_silently_rounded(tenant: TenantHandle) -> None:
    """A quantity sent as a JSON number is either kept exactly or refused (INVALID on the
    event's properties: send it as a string), never rounded to a float."""
    api = tenant.api
    for n, number in enumerate(("18446744073709551616", "0.12345678901234567891")):
        customer_id = await metered_customer(api, aggregation="SUM", handle=f"c{n}")
        template: dict[str, Any] = {"query": INGEST, "variables": {"events": [event("t", f"c{n}")]}}
        template["variables"]["events"][0]["properties"] = {"v": "NUMBER"}
        body = json.dumps(template).replace('"NUMBER"', number)
        headers = {"Authorization": f"Bearer {tenant.key}", "Content-Type": "application/json"}
        response = await api.http.post("/graphql", content=body, headers=headers)
        payload = response.json()["data"]["ingestUsage"]
        if payload["accepted"] == 0:
            assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
                (["input", "events", "0", "properties"], "INVALID")
            ]
        else:
            quantity = await stored_quantity(api, customer_id)
            assert Decimal(quantity) == Decimal(number), (number, quantity)


# ---------------------------------------------------------------- customer resolution


async def test_customers_resolve_by_global_id_handle_external_id_and_alias(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    api = tenant.api
    customer_id = await metered_customer(
        api, handle="Acme-Corp", externalId="ACME-EXT", ingestAliases=["Acme Alias", "ÄLPHA"]
    )
    references = [customer_id, "acme-corp", "ACME-CORP", "acme-ext", "acme alias", "älpha"]
    events = [event(f"r{n}", ref) for n, ref in enumerate(references)]
    assert await ingest(api, events) == {"accepted": 6, "duplicates": 0, "userErrors": []}
    assert await stored_quantity(api, customer_id) == "6.00"

    gone = await create_customer(
        api, displayName="Gone", handle="gone", externalId="gone-ext", ingestAliases=["gone-a"]
    )
    await archive_customer(api, gone["id"])
    plan_id = (await create_plan(api, name="Empty"))["id"]
    theirs = await create_customer(
        other_tenant.api, displayName="Theirs", handle="theirs", ingestAliases=["their-alias"]
    )
    unknown = [gone["id"], "gone", "GONE-EXT", "gone-a", theirs["id"], "theirs", "their-alias"]
    unknown += [plan_id, "!!not-base64!!", "Q3VzdG9tZXI6OTk5OTk5OTk5OTk5"]  # Customer:999999999999
    events = [
        *many(3, customer="acme-corp"),
        *(event(f"u{n}", ref) for n, ref in enumerate(unknown)),
    ]
    assert problems(await ingest(api, events)) == [
        (["input", "events", str(n + 3), "customerId"], "NOT_FOUND") for n in range(len(unknown))
    ]
    assert await stored_quantity(api, customer_id) == "6.00"


# ---------------------------------------------------------------- retries and concurrency


async def test_retrying_a_call_stores_nothing_twice(tenant: TenantHandle) -> None:
    api = tenant.api
    customer_id = await metered_customer(api)
    events = many(20)
    assert await ingest(api, events) == {"accepted": 20, "duplicates": 0, "userErrors": []}
    assert await ingest(api, events) == {"accepted": 0, "duplicates": 20, "userErrors": []}
    mixed = [*events[:5], event("new")]
    assert await ingest(api, mixed) == {"accepted": 1, "duplicates": 5, "userErrors": []}
    assert await stored_quantity(api, customer_id) == "21.00"


async def test_duplicates_within_one_call_count_once_and_the_first_wins(
    tenant: TenantHandle,
) -> None:
    api = tenant.api
    customer_id = await metered_customer(api, aggregation="SUM")
    events = [
        event("t1", properties={"v": 1}),
        event("t2", properties={"v": 2}),
        event("t1", properties={"v": 10}),
        event("t1", properties={"v": 100}),
    ]
    assert await ingest(api, events) == {"accepted": 2, "duplicates": 2, "userErrors": []}
    assert await stored_quantity(api, customer_id) == "3.00"
    again = [event("t3", properties={"v": 4}), event("t3", properties={"v": 40}), events[0]]
    assert await ingest(api, again) == {"accepted": 1, "duplicates": 2, "userErrors": []}
    assert await stored_quantity(api, customer_id) == "7.00"


async def test_concurrent_identical_calls_store_each_transaction_once(
    tenant: TenantHandle,
) -> None:
    api = tenant.api
    customer_id = await metered_customer(api)
    events = many(50)
    responses = await asyncio.gather(*(api.post(INGEST, {"events": events}) for _ in range(5)))
    payloads = [r.json()["data"]["ingestUsage"] for r in responses]
    assert all(p["userErrors"] == [] for p in payloads), payloads
    assert sum(p["accepted"] for p in payloads) == 50
    assert sum(p["duplicates"] for p in payloads) == 200
    assert await stored_quantity(api, customer_id) == "50.00"


async def test_concurrent_calls_sharing_events_in_opposite_orders_all_succeed(
    tenant: TenantHandle,
) -> None:
    """Calls that insert the same transaction ids in different orders must not deadlock
    (PostgreSQL would abort one of them: a 500)."""
    api = tenant.api
    customer_id = await metered_customer(api)
    total = 0
    for round_ in range(3):
        events = many(400, prefix=f"r{round_}-")
        orders = [events, events[::-1], events[200:] + events[:200], events[::-2] + events[::2]]
        responses = await asyncio.gather(*(api.post(INGEST, {"events": o}) for o in orders))
        bodies = [r.json() for r in responses]
        assert all("errors" not in b for b in bodies), bodies
        payloads = [b["data"]["ingestUsage"] for b in bodies]
        assert sum(p["accepted"] for p in payloads) == 400
        assert sum(p["duplicates"] for p in payloads) == 1200
        total += 400
    assert await stored_quantity(api, customer_id) == f"{total}.00"


# ---------------------------------------------------------------- money


async def test_sums_are_exact_decimals_on_both_databases(tenant: TenantHandle) -> None:
    api = tenant.api
    customer_id = await metered_customer(api, aggregation="SUM", price="0.1")
    events = [event("a", properties={"v": 0.1}), event("b", properties={"v": "0.2"})]
    assert (await ingest(api, events))["accepted"] == 2
    variables: dict[str, Any] = {
        "id": customer_id,
        "s": "2024-05-02T00:00:00Z",
        "e": "2024-05-03T00:00:00Z",
    }
    [bucket] = (await api.data(COSTS, variables))["customer"]["costs"]
    assert bucket["creditTypes"] == [
        {
            "creditType": "USD",
            "cost": "0.03",
            "lineItems": [
                {
                    "name": "usage",
                    "quantity": "0.30",
                    "unitPrice": "0.10",
                    "cost": "0.03",
                    "groupValue": None,
                }
            ],
        }
    ]
    given = [event("c", properties={"v": 0.1}), event("d", properties={"v": 0.2})]
    variables = {"id": customer_id, "events": given, "mode": "REPLACE", "s": MAY, "e": JUNE}
    invoice = (await api.data(PREVIEW, variables))["previewInvoice"]
    assert [(i["quantity"], i["total"]) for i in invoice["lineItems"]] == [("0.30", "0.03")]


async def test_micro_prices_times_huge_quantities_are_exact(tenant: TenantHandle) -> None:
    """Python's default decimal context keeps 28 digits: a 30-digit quantity times 0.000001
    must still come out to the last digit, on SQLite (Python sums) and PostgreSQL alike."""
    api = tenant.api
    customer_id = await metered_customer(api, aggregation="SUM", price="0.000001")
    values: list[Any] = ["123456789012345678901234567890.123456", "1.000001", 2**63 - 1]
    events = [event(f"e{n}", properties={"v": v}) for n, v in enumerate(values)]
    assert (await ingest(api, events))["accepted"] == 3
    quantity = "123456789021569050938089343698.123457"
    cost = "123456789021569050938089.343698123457"
    variables: dict[str, Any] = {
        "id": customer_id,
        "s": "2024-05-02T00:00:00Z",
        "e": "2024-05-03T00:00:00Z",
    }
    [bucket] = (await api.data(COSTS, variables))["customer"]["costs"]
    [credit] = bucket["creditTypes"]
    assert credit["cost"] == cost
    assert [(i["quantity"], i["unitPrice"], i["cost"]) for i in credit["lineItems"]] == [
        (quantity, "0.000001", cost)
    ]
    variables = {"id": customer_id, "events": [], "mode": "MERGE", "s": MAY, "e": JUNE}
    invoice = (await api.data(PREVIEW, variables))["previewInvoice"]
    assert [(i["quantity"], i["total"]) for i in invoice["lineItems"]] == [(quantity, cost)]
    assert invoice["totals"] == [{"creditType": "USD", "total": cost}]


async def test_numbers_with_huge_exponents_are_not_quantities(tenant: TenantHandle) -> None:
    """ "1e400000" would overflow PostgreSQL's NUMERIC (a 500 for every later costs query of
    the customer) and expand to 400,001 digits on SQLite: it is not a quantity. Exponents of
    up to three digits are."""
    api = tenant.api
    customer_id = await metered_customer(api, aggregation="SUM")
    values = ["1e400000", "-1E+1000", "1e-99999", "2", "1E+3", "5e-3"]
    events = [event(f"e{n}", properties={"v": v}) for n, v in enumerate(values)]
    assert (await ingest(api, events))["accepted"] == len(values)
    assert await stored_quantity(api, customer_id) == "1002.005"
    assert (await ingest(api, [event("huge", properties={"v": "1e999"})]))["accepted"] == 1
    assert await stored_quantity(api, customer_id) == "1" + "0" * 995 + "1002.005"


# ---------------------------------------------------------------- scopes and statements


async def test_ingest_needs_the_write_usage_scope(tenant: TenantHandle) -> None:
    customer_id = await metered_customer(tenant.api)
    limited = await tenant.key_with(["read:customers", "write:customers", "read:billing"])
    body = await limited.gql(INGEST, {"events": many(3)})
    error = single_error(body, "FORBIDDEN")
    assert error["extensions"]["missingScopes"] == ["write:usage"]
    assert error["path"] == ["ingestUsage"]
    assert body["data"] is None
    assert await stored_quantity(tenant.api, customer_id) == "0.00"


async def test_ingest_statement_count_is_the_same_for_1_and_1000_events(
    app: Starlette, tenant: TenantHandle
) -> None:
    api = tenant.api
    await metered_customer(api)
    counts = []
    for size in (1, 1000):
        with count_statements(app) as statements:
            payload = await ingest(api, many(size, prefix=f"s{size}-"))
        assert payload["accepted"] == size
        counts.append(statements)
    assert_statements(counts[1], len(counts[0]))


async def test_events_without_a_timestamp_happen_now(tenant: TenantHandle) -> None:
    api = tenant.api
    customer_id = await metered_customer(api)
    assert (await ingest(api, [event("now", timestamp=None)]))["accepted"] == 1
    today = datetime.combine(datetime.now(UTC).date(), datetime.min.time(), UTC)
    start, end = today - timedelta(days=1), today + timedelta(days=2)
    variables = {"id": customer_id, "s": start.isoformat(), "e": end.isoformat()}
    buckets = (await api.data(COSTS, variables))["customer"]["costs"]
    quantities = [i["quantity"] for b in buckets for c in b["creditTypes"] for i in c["lineItems"]]
    assert sorted(quantities) == ["0.00", "0.00", "1.00"]  # one day or the next, if midnight


# ---------------------------------------------------------------- costs: range, scope, statements


async def test_costs_range_is_whole_utc_days_and_at_most_92(tenant: TenantHandle) -> None:
    api = tenant.api
    customer_id = await metered_customer(api)
    start = datetime(2024, 5, 1, tzinfo=UTC)

    async def costs(s: str, e: str) -> dict[str, Any]:
        return await api.gql(COSTS, {"id": customer_id, "s": s, "e": e})

    ok = await costs(start.isoformat(), (start + timedelta(days=92)).isoformat())
    buckets = ok["data"]["customer"]["costs"]
    assert len(buckets) == 92
    assert buckets[-1]["endTimestamp"] == "2024-08-01T00:00:00Z"
    offset = await costs("2024-05-01T02:00:00+02:00", "2024-05-03T00:00:00Z")  # UTC midnight
    assert [b["startTimestamp"] for b in offset["data"]["customer"]["costs"]] == [
        "2024-05-01T00:00:00Z",
        "2024-05-02T00:00:00Z",
    ]
    for s, e in (
        (start.isoformat(), (start + timedelta(days=93)).isoformat()),
        ("2024-05-01T00:00:00Z", "2024-05-01T00:00:00Z"),
        ("2024-05-03T00:00:00Z", "2024-05-01T00:00:00Z"),
        ("2024-05-01T00:00:01Z", "2024-05-03T00:00:00Z"),
        ("2024-05-01T00:00:00Z", "2024-05-02T12:00:00Z"),
        ("2024-05-01T00:00:00.000001Z", "2024-05-03T00:00:00Z"),
        ("2024-05-01T00:00:00+02:00", "2024-05-03T00:00:00Z"),  # 22:00 UTC
    ):
        body = await costs(s, e)
        single_error(body, "BAD_USER_INPUT")
        assert body["data"] is None or body["data"]["customer"] is None, body


async def test_costs_need_the_read_billing_scope(tenant: TenantHandle) -> None:
    customer_id = await metered_customer(tenant.api)
    limited = await tenant.key_with(["read:customers"])
    variables = {"id": customer_id, "s": MAY, "e": "2024-05-02T00:00:00Z"}
    body = await limited.gql(COSTS, variables)
    error = single_error(body, "FORBIDDEN")
    assert error["extensions"]["missingScopes"] == ["read:billing"]
    assert error["path"] == ["customer", "costs"]
    named = await limited.data("query($id: ID!) { customer(id: $id) { id } }", {"id": customer_id})
    assert named["customer"] == {"id": customer_id}
    preview = await limited.gql(PREVIEW, {"id": customer_id, "events": []})
    assert single_error(preview, "FORBIDDEN")["extensions"]["missingScopes"] == ["read:billing"]


async def test_costs_statement_count_depends_neither_on_days_nor_on_events(
    app: Starlette, tenant: TenantHandle
) -> None:
    api = tenant.api
    customer = await create_customer(api, displayName="Counted", handle="acme")
    metrics = [
        await create_metric(api, name="calls"),
        await create_metric(
            api,
            name="by region",
            aggregationType="SUM",
            aggregationKey="v",
            propertyFilters=[{"name": "v"}, {"name": "region"}],
            groupKeys=[["region"]],
        ),
    ]
    charges = [{"billableMetricId": m["id"], "unitPrice": "0.5"} for m in metrics]
    plan = await create_plan(api, charges=charges)
    await create_subscription(api, customer["id"], plan["id"], startedAt="2024-01-01T00:00:00Z")

    async def counted(days: int) -> list[str]:
        end = datetime(2024, 5, 1, tzinfo=UTC) + timedelta(days=days)
        variables = {"id": customer["id"], "s": MAY, "e": end.isoformat()}
        with count_statements(app) as statements:
            buckets = (await api.data(COSTS, variables))["customer"]["costs"]
        assert len(buckets) == days
        return statements

    def spread(count: int, prefix: str) -> list[dict[str, Any]]:
        return [
            event(
                f"{prefix}{n}",
                timestamp=f"2024-05-{1 + n % 30:02}T{n % 24:02}:00:00Z",
                properties={"v": n, "region": ("eu", "us", "ap")[n % 3]},
            )
            for n in range(count)
        ]

    reference = await counted(1)
    assert_statements(await counted(30), len(reference))
    await ingest(api, spread(10, "a"))
    assert_statements(await counted(30), len(reference))
    await ingest(api, spread(990, "b"))
    assert_statements(await counted(30), len(reference))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_costs_metric_queries_are_planned_for_their_own_range(
    app: Starlette, tenant: TenantHandle
) -> None:
    """A generic plan of the prepared metric query guesses the range's size and picked an
    index scan five times slower than a sequential scan over a month of 1,000,000 events
    (bench/README.md, "Usage billing"): costs asks for custom plans first, in its
    transaction, every time."""
    customer_id = await metered_customer(tenant.api)
    variables = {"id": customer_id, "s": MAY, "e": "2024-05-03T00:00:00Z"}
    for _ in range(7):  # past the five runs after which PostgreSQL may keep a generic plan
        with count_statements(app) as statements:
            await tenant.api.data(COSTS, variables)
        custom = [n for n, sql in enumerate(statements) if "plan_cache_mode" in sql]
        metric = [n for n, sql in enumerate(statements) if "FROM usage_events" in sql]
        assert len(custom) == 1 and len(metric) == 1 and custom[0] < metric[0], statements


# ---------------------------------------------------------------- previewInvoice input


async def test_preview_reports_bad_events_by_argument_path(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    api = tenant.api
    customer_id = await metered_customer(api)
    await create_customer(api, displayName="Sibling", handle="sibling")
    events = [event("a"), event("", "acme"), event("c", "sibling"), event("d", "nobody")]
    variables = {"id": customer_id, "events": events, "s": MAY, "e": JUNE}
    error = single_error(await api.gql(PREVIEW, variables), "BAD_USER_INPUT")
    found = [(p["field"], p["code"]) for p in error["extensions"]["problems"]]
    assert found == [
        (["events", "1", "transactionId"], "REQUIRED"),
        (["events", "3", "customerId"], "NOT_FOUND"),
    ]
    events = [event("a"), event("c", "sibling")]
    error = single_error(await api.gql(PREVIEW, {**variables, "events": events}))
    assert [(p["field"], p["code"]) for p in error["extensions"]["problems"]] == [
        (["events", "1", "customerId"], "INVALID")
    ]
    theirs = await create_customer(other_tenant.api, displayName="Theirs")
    body = await api.gql(PREVIEW, {**variables, "id": theirs["id"], "events": []})
    single_error(body, "NOT_FOUND")


async def test_merge_ignores_other_tenants_transaction_ids(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    api = tenant.api
    customer_id = await metered_customer(api)
    await metered_customer(other_tenant.api)
    assert (await ingest(other_tenant.api, [event("shared"), event("mine")]))["accepted"] == 2
    assert (await ingest(api, [event("mine")]))["accepted"] == 1  # ids are per tenant
    given = [event("shared"), event("mine"), event("fresh")]
    variables = {"id": customer_id, "events": given, "mode": "MERGE", "s": MAY, "e": JUNE}
    invoice = (await api.data(PREVIEW, variables))["previewInvoice"]
    assert [i["quantity"] for i in invoice["lineItems"]] == ["3.00"]  # mine (stored), shared, fresh
    variables = {"id": customer_id, "s": "2024-05-02T00:00:00Z", "e": "2024-05-03T00:00:00Z"}
    costs = await api.data(COSTS, variables)
    assert costs["customer"]["costs"][0]["creditTypes"][0]["lineItems"][0]["quantity"] == "1.00"


def month_of(moment: datetime) -> tuple[str, str]:
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return (start.isoformat().replace("+00:00", "Z"), end.isoformat().replace("+00:00", "Z"))


async def test_preview_period_defaults_to_the_current_utc_month(tenant: TenantHandle) -> None:
    api = tenant.api
    customer_id = await metered_customer(api)
    query = """
    query($id: ID!, $events: [UsageEventInput!]!, $s: DateTime, $e: DateTime) {
      previewInvoice(customerId: $id, events: $events, startingOn: $s, endingBefore: $e) {
        startTimestamp endTimestamp lineItems { quantity }
      }
    }
    """
    before = month_of(datetime.now(UTC))
    events = [event("now", timestamp=None), event("may", timestamp=DAY)]
    invoice = (await api.data(query, {"id": customer_id, "events": events}))["previewInvoice"]
    period = (invoice["startTimestamp"], invoice["endTimestamp"])
    assert period in {before, month_of(datetime.now(UTC))}
    assert invoice["lineItems"] == [{"quantity": "1.00"}]  # now, not May 2024
    for s, e in (
        ("2024-05-02T00:00:00Z", "2024-05-02T00:00:00Z"),
        ("2024-05-03T00:00:00Z", "2024-05-02T00:00:00Z"),
        ("2024-01-01T00:00:00Z", "2025-01-02T00:00:00Z"),  # 367 days
    ):
        body = await api.gql(query, {"id": customer_id, "events": [], "s": s, "e": e})
        single_error(body, "BAD_USER_INPUT")
    year = {
        "id": customer_id,
        "events": [],
        "s": "2024-01-01T00:00:00Z",
        "e": "2025-01-01T00:00:00Z",
    }
    assert (await api.data(query, year))["previewInvoice"]["lineItems"] == [{"quantity": "0.00"}]


async def test_preview_counts_a_repeated_transaction_id_once_as_ingest_would(
    tenant: TenantHandle,
) -> None:
    """The first given event of a transaction id wins, as ingestUsage would store it; when
    it lies outside the period, a later copy inside the period does not count either."""
    api = tenant.api
    customer_id = await metered_customer(api, aggregation="SUM")
    given = [
        event("a", properties={"v": 1}, timestamp="2024-04-30T23:59:59Z"),
        event("a", properties={"v": 10}),
        event("b", properties={"v": 100}),
        event("b", properties={"v": 1000}),
        event("c", properties={"v": 5}, timestamp=None),  # now: after the period
        event("c", properties={"v": 50}),
    ]
    for mode in ("REPLACE", "MERGE"):
        variables = {"id": customer_id, "events": given, "mode": mode, "s": MAY, "e": JUNE}
        invoice = (await api.data(PREVIEW, variables))["previewInvoice"]
        assert [i["quantity"] for i in invoice["lineItems"]] == ["100.00"], mode
    assert (await ingest(api, given))["accepted"] == 3
    assert await stored_quantity(api, customer_id) == "100.00"
