"""Ingest, costs and preview, end to end (the oracle tests compare against plain Python)."""

from __future__ import annotations

from conftest import TenantHandle
from helpers import create_customer, create_metric, create_plan, create_subscription

INGEST = """mutation($events: [UsageEventInput!]!) { ingestUsage(input: {events: $events}) {
  accepted duplicates userErrors { field code message } } }"""
COSTS = """query($id: ID!, $s: DateTime!, $e: DateTime!) { node(id: $id) { ... on Customer {
  costs(startingOn: $s, endingBefore: $e) { startTimestamp endTimestamp credit_types: creditTypes {
    creditType cost lineItems { name quantity unitPrice cost groupKey groupValue
      billableMetric { name } } } } } } }"""


async def test_ingest_then_costs_are_exact(tenant: TenantHandle) -> None:
    api = tenant.api
    customer = await create_customer(api, displayName="Usage Co", handle="usage-co")
    metric = await create_metric(
        api,
        name="GB",
        aggregationType="SUM",
        aggregationKey="gb",
        eventTypeFilter={"inValues": ["storage"]},
        propertyFilters=[{"name": "gb", "exists": True}, {"name": "region"}],
        groupKeys=[["region"]],
    )
    plan = await create_plan(
        api, name="P", charges=[{"billableMetricId": metric["id"], "unitPrice": "0.5"}]
    )
    await create_subscription(api, customer["id"], plan["id"], startedAt="2024-03-01T00:00:00Z")
    events = [
        {
            "transactionId": "t1",
            "customerId": "usage-co",
            "eventType": "storage",
            "timestamp": "2024-03-02T10:00:00Z",
            "properties": {"gb": 0.1, "region": "eu"},
        },
        {
            "transactionId": "t2",
            "customerId": customer["id"],
            "eventType": "storage",
            "timestamp": "2024-03-02T11:00:00Z",
            "properties": {"gb": "0.2", "region": "eu"},
        },
        {
            "transactionId": "t3",
            "customerId": "usage-co",
            "eventType": "storage",
            "timestamp": "2024-03-02T12:00:00Z",
            "properties": {"gb": 1, "region": "us"},
        },
        {
            "transactionId": "t4",
            "customerId": "usage-co",
            "eventType": "other",
            "timestamp": "2024-03-02T12:00:00Z",
            "properties": {"gb": 7},
        },
    ]
    first = (await api.data(INGEST, {"events": events}))["ingestUsage"]
    assert first == {"accepted": 4, "duplicates": 0, "userErrors": []}
    again = (await api.data(INGEST, {"events": events}))["ingestUsage"]
    assert again == {"accepted": 0, "duplicates": 4, "userErrors": []}
    data = await api.data(
        COSTS, {"id": customer["id"], "s": "2024-03-01T00:00:00Z", "e": "2024-03-04T00:00:00Z"}
    )
    buckets = data["node"]["costs"]
    assert [b["startTimestamp"] for b in buckets] == [
        "2024-03-01T00:00:00Z",
        "2024-03-02T00:00:00Z",
        "2024-03-03T00:00:00Z",
    ]
    day = buckets[1]["credit_types"][0]
    assert day["creditType"] == "USD"
    assert [(i["groupValue"], i["quantity"], i["cost"]) for i in day["lineItems"]] == [
        ("eu", "0.30", "0.15"),
        ("us", "1.00", "0.50"),
    ]
    assert day["cost"] == "0.65"
    zero = buckets[0]["credit_types"][0]["lineItems"]
    assert [(i["quantity"], i["groupValue"]) for i in zero] == [("0.00", None)]
    preview = await api.data(
        """query($id: ID!, $ev: [UsageEventInput!]!) { previewInvoice(customerId: $id, events: $ev,
        mode: MERGE, startingOn: "2024-03-01T00:00:00Z", endingBefore: "2024-04-01T00:00:00Z") {
        lineItems { groupValue quantity total } totals { creditType total } } }""",
        {"id": customer["id"], "ev": [events[0], {**events[1], "transactionId": "new"}]},
    )
    invoice = preview["previewInvoice"]
    assert [(i["groupValue"], i["quantity"]) for i in invoice["lineItems"]] == [
        ("eu", "0.50"),
        ("us", "1.00"),
    ]
    assert invoice["totals"] == [{"creditType": "USD", "total": "0.75"}]
