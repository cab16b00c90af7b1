"""Plans, subscriptions, instances, billable metrics and cloneCustomer over HTTP.

API.md (Customers: cloneCustomer; Billing; Identity, tenancy, scopes) against the real app.
Every test gets a fresh tenant and runs on SQLite and on PostgreSQL. Assertions are on the
response JSON only, except where a plan is archived: no mutation archives a plan, so that
one state is set up in the database directly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import Api, TenantHandle
from helpers import (
    CUSTOMER_FIELDS,
    INSTANCE_FIELDS,
    METRIC_FIELDS,
    PLAN_FIELDS,
    SUBSCRIPTION_FIELDS,
    archive_customer,
    create_customer,
    create_instance,
    create_metric,
    create_plan,
    create_subscription,
)
from sqlalchemy import update

from domain.ids import decode_int_id, encode_global_id
from models import Plan

MISSING = 987_654_321_012

CREATE_METRIC = f"""
mutation($input: CreateBillableMetricInput!) {{
  createBillableMetric(input: $input) {{
    billableMetric {{ {METRIC_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
"""
ARCHIVE_METRIC = f"""
mutation($id: ID!) {{
  archiveBillableMetric(input: {{id: $id}}) {{
    billableMetric {{ {METRIC_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
"""
METRICS = """
query($includeArchived: Boolean, $first: Int) {
  billableMetrics(includeArchived: $includeArchived, first: $first) {
    totalCount
    nodes { id name archivedAt }
  }
}
"""
CREATE_PLAN = f"""
mutation($input: CreatePlanInput!) {{
  createPlan(input: $input) {{
    plan {{ {PLAN_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
"""
PLANS = f"""
query($includeArchived: Boolean, $first: Int) {{
  plans(includeArchived: $includeArchived, first: $first) {{
    totalCount
    nodes {{ {PLAN_FIELDS} }}
  }}
}}
"""
CREATE_SUBSCRIPTION = f"""
mutation($input: CreateSubscriptionInput!) {{
  createSubscription(input: $input) {{
    subscription {{ {SUBSCRIPTION_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
"""
CANCEL_SUBSCRIPTION = f"""
mutation($input: CancelSubscriptionInput!) {{
  cancelSubscription(input: $input) {{
    subscription {{ {SUBSCRIPTION_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
"""
CREATE_INSTANCE = f"""
mutation($input: CreateInstanceInput!) {{
  createInstance(input: $input) {{
    instance {{ {INSTANCE_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
"""
SET_INSTANCE_STATUS = f"""
mutation($id: ID!, $status: InstanceStatus!) {{
  setInstanceStatus(input: {{id: $id, status: $status}}) {{
    instance {{ {INSTANCE_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
"""
CLONE = f"""
mutation($input: CloneCustomerInput!) {{
  cloneCustomer(input: $input) {{
    customer {{
      {CUSTOMER_FIELDS}
      subscriptions(first: 100) {{ totalCount nodes {{ plan {{ id }} status startedAt }} }}
      instances(first: 100) {{ totalCount }}
    }}
    userErrors {{ field message code }}
  }}
}}
"""
CUSTOMER = f"""
query($id: ID!) {{
  customer(id: $id) {{
    {CUSTOMER_FIELDS}
    subscriptions(first: 100) {{ totalCount nodes {{ id plan {{ id }} status startedAt }} }}
    instances(first: 100) {{ totalCount nodes {{ {INSTANCE_FIELDS} }} }}
  }}
}}
"""
CUSTOMERS = "query { customers(first: 100) { totalCount nodes { id } } }"


# ---------------------------------------------------------------- helpers


def at(value: str) -> datetime:
    """A DateTime of a response, which the server always answers in UTC with `Z`."""
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def assert_now(value: str) -> None:
    """A timestamp the server set to the moment of the request."""
    assert abs(at(value) - datetime.now(UTC)) < timedelta(minutes=1), value


async def payload_of(api: Api, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The payload of a single-mutation document (no GraphQL errors allowed)."""
    data = await api.data(document, variables)
    (payload,) = data.values()
    assert isinstance(payload, dict)
    return payload


async def user_errors(api: Api, document: str, variables: dict[str, Any]) -> list[dict[str, Any]]:
    """The userErrors of a mutation that must fail, with its object null."""
    payload = await payload_of(api, document, variables)
    result = [value for name, value in payload.items() if name != "userErrors"]
    assert result == [None], payload
    errors: list[dict[str, Any]] = payload["userErrors"]
    assert errors, payload
    return errors


def codes(errors: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """(code, field) of each user error, in order: what a client branches on."""
    return [(error["code"], error["field"]) for error in errors]


async def metric_errors(api: Api, **fields: Any) -> list[dict[str, Any]]:
    values = {"name": "metric", "aggregationType": "COUNT", **fields}
    return await user_errors(api, CREATE_METRIC, {"input": values})


async def plan_errors(api: Api, **fields: Any) -> list[dict[str, Any]]:
    values = {"name": "Plan", "charges": [], **fields}
    return await user_errors(api, CREATE_PLAN, {"input": values})


async def subscription_errors(
    api: Api, customer_id: str, plan_id: str, **fields: Any
) -> list[dict[str, Any]]:
    values = {"customerId": customer_id, "planId": plan_id, **fields}
    return await user_errors(api, CREATE_SUBSCRIPTION, {"input": values})


async def instance_errors(api: Api, customer_id: str, **fields: Any) -> list[dict[str, Any]]:
    values = {"customerId": customer_id, "name": "instance-1", **fields}
    return await user_errors(api, CREATE_INSTANCE, {"input": values})


async def metrics_list(api: Api, include_archived: bool = False) -> dict[str, Any]:
    data = await api.data(METRICS, {"includeArchived": include_archived, "first": 100})
    connection: dict[str, Any] = data["billableMetrics"]
    return connection


async def plans_list(api: Api, include_archived: bool = False) -> dict[str, Any]:
    data = await api.data(PLANS, {"includeArchived": include_archived, "first": 100})
    connection: dict[str, Any] = data["plans"]
    return connection


async def read_customer(api: Api, customer_id: str) -> dict[str, Any]:
    data = await api.data(CUSTOMER, {"id": customer_id})
    customer: dict[str, Any] = data["customer"]
    assert customer is not None
    return customer


async def archive_plan_in_database(tenant: TenantHandle, plan_id: str) -> None:
    """No mutation archives a plan: an operator does it in the database."""
    pk = decode_int_id(plan_id, "Plan")
    async with tenant.app.state.owner_factory(info={"system": True}) as session:
        await session.execute(
            update(Plan).where(Plan.id == pk).values(archived_at=datetime.now(UTC))
        )
        await session.commit()


async def subscribed_customer(api: Api, **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A customer with one ACTIVE subscription to a one-charge plan: (customer, subscription)."""
    metric = await create_metric(api)
    plan = await create_plan(api, charges=[{"billableMetricId": metric["id"], "unitPrice": "1"}])
    customer = await create_customer(api, **fields)
    subscription = await create_subscription(api, customer["id"], plan["id"])
    return customer, subscription


def missing_id(type_name: str) -> str:
    return encode_global_id(type_name, MISSING)


def forbidden(body: dict[str, Any], field: str, scope: str) -> None:
    """The field resolved to null with one FORBIDDEN error naming the missing scope."""
    assert body["data"] is None or body["data"].get(field) is None, body
    (error,) = body["errors"]
    assert error["path"] == [field], error
    assert error["extensions"] == {"code": "FORBIDDEN", "missingScopes": [scope]}, error


# ---------------------------------------------------------------- createBillableMetric


async def test_create_billable_metric_count_without_aggregation_key(tenant: TenantHandle) -> None:
    metric = await create_metric(tenant.api, name="Requests", aggregationType="COUNT")

    assert metric["name"] == "Requests"
    assert metric["aggregationType"] == "COUNT"
    assert metric["aggregationKey"] is None
    assert metric["eventTypeFilter"] is None
    assert metric["propertyFilters"] == []
    assert metric["groupKeys"] == []
    assert metric["customFields"] == []
    assert metric["archivedAt"] is None
    assert_now(metric["createdAt"])
    assert "COUNT(*)" in metric["sql"]
    assert "GROUP BY" not in metric["sql"]


@pytest.mark.parametrize("aggregation", ["SUM", "MAX", "LATEST", "UNIQUE"])
async def test_create_billable_metric_requires_aggregation_key_unless_count(
    tenant: TenantHandle, aggregation: str
) -> None:
    filters = [{"name": "bytes", "exists": True}]
    errors = await metric_errors(tenant.api, aggregationType=aggregation, propertyFilters=filters)
    assert codes(errors) == [("REQUIRED", ["input", "aggregationKey"])]

    errors = await metric_errors(
        tenant.api, aggregationType=aggregation, aggregationKey="", propertyFilters=filters
    )
    assert codes(errors) == [("REQUIRED", ["input", "aggregationKey"])]


async def test_create_billable_metric_rejects_aggregation_key_not_a_property_filter(
    tenant: TenantHandle,
) -> None:
    errors = await metric_errors(
        tenant.api,
        aggregationType="SUM",
        aggregationKey="bytes",
        propertyFilters=[{"name": "region", "inValues": ["eu"]}],
    )
    assert codes(errors) == [("INVALID", ["input", "aggregationKey"])]

    errors = await metric_errors(tenant.api, aggregationType="MAX", aggregationKey="bytes")
    assert codes(errors) == [("INVALID", ["input", "aggregationKey"])]


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"eventTypeFilter": {"inValues": []}}, ["input", "eventTypeFilter", "inValues"]),
        ({"eventTypeFilter": {"notInValues": []}}, ["input", "eventTypeFilter", "notInValues"]),
        (
            {"propertyFilters": [{"name": "a", "exists": True}, {"name": "b", "inValues": []}]},
            ["input", "propertyFilters", "1", "inValues"],
        ),
        (
            {"propertyFilters": [{"name": "a", "exists": True}, {"name": "b", "notInValues": []}]},
            ["input", "propertyFilters", "1", "notInValues"],
        ),
    ],
    ids=["event-in", "event-not-in", "property-in", "property-not-in"],
)
async def test_create_billable_metric_rejects_empty_value_lists(
    tenant: TenantHandle, fields: dict[str, Any], path: list[str]
) -> None:
    errors = await metric_errors(tenant.api, **fields)
    assert codes(errors) == [("INVALID", path)]


async def test_create_billable_metric_rejects_duplicate_property_filter_names(
    tenant: TenantHandle,
) -> None:
    filters = [
        {"name": "region", "inValues": ["eu"]},
        {"name": "bytes", "exists": True},
        {"name": "region", "notInValues": ["us"]},
    ]
    errors = await metric_errors(tenant.api, propertyFilters=filters)
    assert codes(errors) == [("INVALID", ["input", "propertyFilters", "2", "name"])]


async def test_create_billable_metric_rejects_group_key_not_a_property_filter(
    tenant: TenantHandle,
) -> None:
    errors = await metric_errors(
        tenant.api,
        propertyFilters=[{"name": "region", "exists": True}],
        groupKeys=[["region"], ["region", "zone"]],
    )
    assert codes(errors) == [("INVALID", ["input", "groupKeys", "1"])]
    assert "zone" in errors[0]["message"]


async def test_create_billable_metric_round_trips_every_field(tenant: TenantHandle) -> None:
    fields: dict[str, Any] = {
        "name": "Egress bytes",
        "aggregationType": "SUM",
        "aggregationKey": "bytes",
        "eventTypeFilter": {"inValues": ["egress", "download"], "notInValues": ["internal"]},
        "propertyFilters": [
            {"name": "bytes", "exists": True},
            {"name": "region", "inValues": ["eu-west-1", "us-east-1"]},
            {"name": "tier", "notInValues": ["free"]},
            {"name": "debug", "exists": False},
        ],
        "groupKeys": [["region"], ["region", "tier"]],
        "customFields": [{"key": "owner", "value": "billing-team"}, {"key": "team", "value": "x"}],
    }
    metric = await create_metric(tenant.api, **fields)

    assert metric["name"] == "Egress bytes"
    assert metric["aggregationType"] == "SUM"
    assert metric["aggregationKey"] == "bytes"
    assert metric["eventTypeFilter"] == fields["eventTypeFilter"]
    assert metric["propertyFilters"] == [
        {"name": "bytes", "exists": True, "inValues": None, "notInValues": None},
        {
            "name": "region",
            "exists": None,
            "inValues": ["eu-west-1", "us-east-1"],
            "notInValues": None,
        },
        {"name": "tier", "exists": None, "inValues": None, "notInValues": ["free"]},
        {"name": "debug", "exists": False, "inValues": None, "notInValues": None},
    ]
    assert metric["groupKeys"] == [["region"], ["region", "tier"]]
    assert sorted(metric["customFields"], key=lambda f: f["key"]) == fields["customFields"]

    sql = metric["sql"]
    for value in ("'egress'", "'download'", "'internal'", "'eu-west-1'", "'us-east-1'", "'free'"):
        assert value in sql, sql
    assert "SUM(" in sql, sql
    assert "'bytes'" in sql, sql
    assert "GROUP BY" in sql, sql
    assert "'region'" in sql.split("GROUP BY", 1)[1], sql

    # It was stored as answered: the list reads the same metric back.
    listed = await metrics_list(tenant.api)
    assert listed["totalCount"] == 1
    assert listed["nodes"] == [{"id": metric["id"], "name": "Egress bytes", "archivedAt": None}]


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [("MAX", "MAX("), ("UNIQUE", "COUNT(DISTINCT"), ("LATEST", "ORDER BY timestamp DESC")],
)
async def test_create_billable_metric_sql_shows_the_aggregation(
    tenant: TenantHandle, aggregation: str, expected: str
) -> None:
    metric = await create_metric(
        tenant.api,
        aggregationType=aggregation,
        aggregationKey="value",
        propertyFilters=[{"name": "value", "exists": True}],
    )
    assert expected in metric["sql"], metric["sql"]
    assert "'value'" in metric["sql"], metric["sql"]


async def test_create_billable_metric_writes_nothing_after_an_error(tenant: TenantHandle) -> None:
    await create_metric(tenant.api, name="kept")
    errors = await metric_errors(
        tenant.api,
        name="",
        aggregationType="SUM",
        eventTypeFilter={"inValues": []},
        propertyFilters=[{"name": "a", "exists": True}, {"name": "a", "exists": True}],
        groupKeys=[["nope"]],
    )
    # Every problem at once, not only the first.
    assert sorted(codes(errors)) == sorted(
        [
            ("REQUIRED", ["input", "name"]),
            ("INVALID", ["input", "eventTypeFilter", "inValues"]),
            ("INVALID", ["input", "propertyFilters", "1", "name"]),
            ("REQUIRED", ["input", "aggregationKey"]),
            ("INVALID", ["input", "groupKeys", "0"]),
        ]
    )
    for include_archived in (False, True):
        listed = await metrics_list(tenant.api, include_archived)
        assert listed["totalCount"] == 1
        assert [node["name"] for node in listed["nodes"]] == ["kept"]


# ---------------------------------------------------------------- archiveBillableMetric


async def test_archive_billable_metric_sets_archived_at(tenant: TenantHandle) -> None:
    metric = await create_metric(tenant.api)
    payload = await payload_of(tenant.api, ARCHIVE_METRIC, {"id": metric["id"]})

    assert payload["userErrors"] == []
    archived = payload["billableMetric"]
    assert archived["id"] == metric["id"]
    assert_now(archived["archivedAt"])
    assert at(archived["archivedAt"]) >= at(metric["createdAt"])
    assert {k: v for k, v in archived.items() if k != "archivedAt"} == {
        k: v for k, v in metric.items() if k != "archivedAt"
    }


async def test_archive_billable_metric_twice_is_a_no_op(tenant: TenantHandle) -> None:
    metric = await create_metric(tenant.api)
    first = await payload_of(tenant.api, ARCHIVE_METRIC, {"id": metric["id"]})
    second = await payload_of(tenant.api, ARCHIVE_METRIC, {"id": metric["id"]})

    assert second["userErrors"] == []
    assert second["billableMetric"] == first["billableMetric"]
    assert second["billableMetric"]["archivedAt"] is not None


async def test_archive_billable_metric_hides_it_unless_include_archived(
    tenant: TenantHandle,
) -> None:
    kept = await create_metric(tenant.api, name="kept")
    gone = await create_metric(tenant.api, name="gone")
    await payload_of(tenant.api, ARCHIVE_METRIC, {"id": gone["id"]})

    active = await metrics_list(tenant.api)
    assert active["totalCount"] == 1
    assert [node["id"] for node in active["nodes"]] == [kept["id"]]

    everything = await metrics_list(tenant.api, include_archived=True)
    assert everything["totalCount"] == 2
    assert [node["id"] for node in everything["nodes"]] == [gone["id"], kept["id"]]
    assert everything["nodes"][0]["archivedAt"] is not None
    assert everything["nodes"][1]["archivedAt"] is None


async def test_archive_billable_metric_of_another_tenant_is_not_found(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    theirs = await create_metric(other_tenant.api)

    errors = await user_errors(tenant.api, ARCHIVE_METRIC, {"id": theirs["id"]})
    assert codes(errors) == [("NOT_FOUND", ["input", "id"])]
    missing = await user_errors(tenant.api, ARCHIVE_METRIC, {"id": missing_id("BillableMetric")})
    assert missing == errors

    listed = await metrics_list(other_tenant.api)
    assert listed["nodes"] == [{"id": theirs["id"], "name": theirs["name"], "archivedAt": None}]


async def test_create_plan_rejects_an_archived_metric(tenant: TenantHandle) -> None:
    live = await create_metric(tenant.api, name="live")
    archived = await create_metric(tenant.api, name="archived")
    await payload_of(tenant.api, ARCHIVE_METRIC, {"id": archived["id"]})

    charges = [
        {"billableMetricId": archived["id"], "unitPrice": "1"},
        {"billableMetricId": live["id"], "unitPrice": "2"},
    ]
    errors = await plan_errors(tenant.api, charges=charges)
    assert codes(errors) == [("ARCHIVED", ["input", "charges", "0", "billableMetricId"])]
    assert (await plans_list(tenant.api, include_archived=True))["totalCount"] == 0


# ---------------------------------------------------------------- createPlan and plans


async def test_create_plan_keeps_charges_in_order_with_exact_prices(tenant: TenantHandle) -> None:
    first = await create_metric(tenant.api, name="first")
    second = await create_metric(tenant.api, name="second")
    third = await create_metric(tenant.api, name="third")
    # Input order differs from creation order: charges answer in input order.
    charges = [
        {"billableMetricId": third["id"], "unitPrice": "0.1", "creditType": "EUR"},
        {"billableMetricId": first["id"], "unitPrice": "12.345678"},
        {"billableMetricId": second["id"], "unitPrice": "0"},
        {"billableMetricId": first["id"], "unitPrice": "7.50", "creditType": "GPU"},
    ]
    plan = await create_plan(tenant.api, name="Pro", description="For teams", charges=charges)

    expected = [
        {
            "billableMetric": {"id": third["id"], "name": "third"},
            "unitPrice": "0.10",
            "creditType": "EUR",
        },
        {
            "billableMetric": {"id": first["id"], "name": "first"},
            "unitPrice": "12.345678",
            "creditType": "USD",
        },
        {
            "billableMetric": {"id": second["id"], "name": "second"},
            "unitPrice": "0.00",
            "creditType": "USD",
        },
        {
            "billableMetric": {"id": first["id"], "name": "first"},
            "unitPrice": "7.50",
            "creditType": "GPU",
        },
    ]
    assert plan["name"] == "Pro"
    assert plan["description"] == "For teams"
    assert plan["archivedAt"] is None
    assert_now(plan["createdAt"])
    assert plan["charges"] == expected

    # Read back in a new request: stored as answered.
    (listed,) = (await plans_list(tenant.api))["nodes"]
    assert listed == plan


@pytest.mark.parametrize(
    ("given", "answered"),
    [
        ("12345678901234567890123456.123456789012", "12345678901234567890123456.123456789012"),
        ("1000000.000000000001", "1000000.000000000001"),
        ("0.000000000001", "0.000000000001"),
        ("0.30", "0.30"),
        ("1E+3", "1000.00"),
        ("-0", "0.00"),
    ],
)
async def test_create_plan_stores_prices_exactly(
    tenant: TenantHandle, given: str, answered: str
) -> None:
    """Up to 26 digits before and 12 after the point are accepted, so all are kept."""
    metric = await create_metric(tenant.api)
    plan = await create_plan(
        tenant.api, charges=[{"billableMetricId": metric["id"], "unitPrice": given}]
    )
    assert [charge["unitPrice"] for charge in plan["charges"]] == [answered]
    (listed,) = (await plans_list(tenant.api))["nodes"]
    assert [charge["unitPrice"] for charge in listed["charges"]] == [answered]


@pytest.mark.parametrize("price", ["-0.01", "0.0000000000001", "123456789012345678901234567"])
async def test_create_plan_rejects_prices_it_can_not_store(
    tenant: TenantHandle, price: str
) -> None:
    metric = await create_metric(tenant.api)
    charges = [{"billableMetricId": metric["id"], "unitPrice": price}]
    errors = await plan_errors(tenant.api, charges=charges)
    assert codes(errors) == [("INVALID", ["input", "charges", "0", "unitPrice"])]
    assert (await plans_list(tenant.api, include_archived=True))["totalCount"] == 0


def assert_refused_not_masked(body: dict[str, Any], scalar: str) -> None:
    """A value the scalar refuses is the client's mistake: a readable error, never a 500."""
    assert body["data"] is None, body
    (error,) = body["errors"]
    assert error.get("extensions", {}).get("code") != "INTERNAL_SERVER_ERROR", error
    assert scalar in error["message"], error


@pytest.mark.parametrize("price", ["NaN", "Infinity", "abc", "1.2.3"])
async def test_create_plan_refuses_a_malformed_price_variable(
    tenant: TenantHandle, price: str
) -> None:
    metric = await create_metric(tenant.api)
    charges = [{"billableMetricId": metric["id"], "unitPrice": price}]
    body = await tenant.api.gql(CREATE_PLAN, {"input": {"name": "Plan", "charges": charges}})
    assert_refused_not_masked(body, "Decimal")
    assert (await plans_list(tenant.api, include_archived=True))["totalCount"] == 0


@pytest.mark.parametrize("price", ['"NaN"', '"abc"', "true"])
async def test_create_plan_refuses_a_malformed_price_literal(
    tenant: TenantHandle, price: str
) -> None:
    metric = await create_metric(tenant.api)
    document = (
        f'mutation {{ createPlan(input: {{name: "Plan", charges: '
        f'[{{billableMetricId: "{metric["id"]}", unitPrice: {price}}}]}}) {{ plan {{ id }} }} }}'
    )
    assert_refused_not_masked(await tenant.api.gql(document), "Decimal")
    assert (await plans_list(tenant.api, include_archived=True))["totalCount"] == 0


async def test_create_plan_defaults_credit_type_to_usd(tenant: TenantHandle) -> None:
    metric = await create_metric(tenant.api)
    plan = await create_plan(
        tenant.api, charges=[{"billableMetricId": metric["id"], "unitPrice": "5"}]
    )
    assert plan["charges"] == [
        {
            "billableMetric": {"id": metric["id"], "name": metric["name"]},
            "unitPrice": "5.00",
            "creditType": "USD",
        }
    ]


async def test_create_plan_rejects_a_negative_price(tenant: TenantHandle) -> None:
    metric = await create_metric(tenant.api)
    charges = [
        {"billableMetricId": metric["id"], "unitPrice": "1"},
        {"billableMetricId": metric["id"], "unitPrice": "-0.01"},
    ]
    errors = await plan_errors(tenant.api, charges=charges)
    assert codes(errors) == [("INVALID", ["input", "charges", "1", "unitPrice"])]
    assert (await plans_list(tenant.api, include_archived=True))["totalCount"] == 0


async def test_create_plan_rejects_a_metric_of_another_tenant(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    mine = await create_metric(tenant.api)
    theirs = await create_metric(other_tenant.api)

    def charges(metric_id: str) -> list[dict[str, Any]]:
        return [
            {"billableMetricId": mine["id"], "unitPrice": "1"},
            {"billableMetricId": metric_id, "unitPrice": "1"},
        ]

    errors = await plan_errors(tenant.api, charges=charges(theirs["id"]))
    assert codes(errors) == [("NOT_FOUND", ["input", "charges", "1", "billableMetricId"])]
    # Exactly like an ID that does not exist, and like an ID of another type.
    assert await plan_errors(tenant.api, charges=charges(missing_id("BillableMetric"))) == errors
    assert await plan_errors(tenant.api, charges=charges(missing_id("Plan"))) == errors
    assert (await plans_list(tenant.api, include_archived=True))["totalCount"] == 0


@pytest.mark.parametrize("name", ["", "   "])
async def test_create_plan_requires_a_name(tenant: TenantHandle, name: str) -> None:
    errors = await plan_errors(tenant.api, name=name)
    assert codes(errors) == [("REQUIRED", ["input", "name"])]
    assert (await plans_list(tenant.api, include_archived=True))["totalCount"] == 0


async def test_plans_lists_newest_first_with_total_count(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    await create_plan(other_tenant.api, name="theirs")
    created = [await create_plan(tenant.api, name=f"plan-{n}") for n in range(3)]

    listed = await plans_list(tenant.api)
    assert listed["totalCount"] == 3
    assert [plan["id"] for plan in listed["nodes"]] == [plan["id"] for plan in reversed(created)]

    data = await tenant.api.data("query { plans(first: 2) { totalCount nodes { name } } }")
    assert data["plans"]["totalCount"] == 3
    assert [plan["name"] for plan in data["plans"]["nodes"]] == ["plan-2", "plan-1"]


async def test_plans_pages_with_cursors(tenant: TenantHandle) -> None:
    created = [await create_plan(tenant.api, name=f"plan-{n}") for n in range(5)]
    page = "query($after: String) { plans(first: 2, after: $after) { totalCount "
    page += "nodes { id } pageInfo { hasNextPage endCursor } } }"
    seen: list[str] = []
    after = None
    for _ in range(3):
        connection = (await tenant.api.data(page, {"after": after}))["plans"]
        assert connection["totalCount"] == 5
        seen += [node["id"] for node in connection["nodes"]]
        after = connection["pageInfo"]["endCursor"]
    assert seen == [plan["id"] for plan in reversed(created)]
    assert connection["pageInfo"]["hasNextPage"] is False

    body = await tenant.api.gql("query { plans(first: 101) { totalCount } }")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body


async def test_plans_include_archived(tenant: TenantHandle) -> None:
    kept = await create_plan(tenant.api, name="kept")
    retired = await create_plan(tenant.api, name="retired")
    await archive_plan_in_database(tenant, retired["id"])

    active = await plans_list(tenant.api)
    assert active["totalCount"] == 1
    assert [plan["id"] for plan in active["nodes"]] == [kept["id"]]

    everything = await plans_list(tenant.api, include_archived=True)
    assert everything["totalCount"] == 2
    assert [plan["id"] for plan in everything["nodes"]] == [retired["id"], kept["id"]]
    assert everything["nodes"][0]["archivedAt"] is not None


# ---------------------------------------------------------------- createSubscription


async def test_create_subscription_defaults_to_active_starting_now(tenant: TenantHandle) -> None:
    plan = await create_plan(tenant.api)
    customer = await create_customer(tenant.api)
    subscription = await create_subscription(tenant.api, customer["id"], plan["id"])

    assert subscription["status"] == "ACTIVE"
    assert_now(subscription["startedAt"])
    assert_now(subscription["createdAt"])
    assert subscription["endsAt"] is None
    assert subscription["canceledAt"] is None
    assert subscription["customer"] == {"id": customer["id"]}
    assert subscription["plan"] == {"id": plan["id"]}

    stored = await read_customer(tenant.api, customer["id"])
    assert stored["subscriptions"]["totalCount"] == 1
    assert stored["subscriptions"]["nodes"][0]["id"] == subscription["id"]


async def test_create_subscription_keeps_given_status_and_dates(tenant: TenantHandle) -> None:
    plan = await create_plan(tenant.api)
    customer = await create_customer(tenant.api)
    subscription = await create_subscription(
        tenant.api,
        customer["id"],
        plan["id"],
        status="TRIALING",
        startedAt="2024-08-10T14:00:00+02:00",
        endsAt="2024-09-10T12:00:00Z",
    )
    assert subscription["status"] == "TRIALING"
    assert subscription["startedAt"] == "2024-08-10T12:00:00Z"
    assert subscription["endsAt"] == "2024-09-10T12:00:00Z"


@pytest.mark.parametrize("whose", ["missing", "other-tenant"])
async def test_create_subscription_rejects_an_unknown_customer(
    tenant: TenantHandle, other_tenant: TenantHandle, whose: str
) -> None:
    plan = await create_plan(tenant.api)
    if whose == "missing":
        customer_id = missing_id("Customer")
    else:
        customer_id = (await create_customer(other_tenant.api))["id"]
    errors = await subscription_errors(tenant.api, customer_id, plan["id"])
    assert codes(errors) == [("NOT_FOUND", ["input", "customerId"])]


@pytest.mark.parametrize("whose", ["missing", "other-tenant"])
async def test_create_subscription_rejects_an_unknown_plan(
    tenant: TenantHandle, other_tenant: TenantHandle, whose: str
) -> None:
    customer = await create_customer(tenant.api)
    if whose == "missing":
        plan_id = missing_id("Plan")
    else:
        plan_id = (await create_plan(other_tenant.api))["id"]
    errors = await subscription_errors(tenant.api, customer["id"], plan_id)
    assert codes(errors) == [("NOT_FOUND", ["input", "planId"])]
    assert (await read_customer(tenant.api, customer["id"]))["subscriptions"]["totalCount"] == 0


async def test_create_subscription_rejects_an_archived_customer(tenant: TenantHandle) -> None:
    plan = await create_plan(tenant.api)
    customer = await create_customer(tenant.api)
    await archive_customer(tenant.api, customer["id"])

    errors = await subscription_errors(tenant.api, customer["id"], plan["id"])
    assert codes(errors) == [("ARCHIVED", ["input", "customerId"])]
    assert (await read_customer(tenant.api, customer["id"]))["subscriptions"]["totalCount"] == 0


async def test_create_subscription_rejects_an_archived_plan(tenant: TenantHandle) -> None:
    plan = await create_plan(tenant.api)
    await archive_plan_in_database(tenant, plan["id"])
    customer = await create_customer(tenant.api)

    errors = await subscription_errors(tenant.api, customer["id"], plan["id"])
    assert codes(errors) == [("ARCHIVED", ["input", "planId"])]


@pytest.mark.parametrize(
    "ends_at", ["2024-08-10T11:59:59Z", "2024-08-10T12:00:00Z", "2024-08-10T13:00:00+02:00"]
)
async def test_create_subscription_rejects_ends_at_before_started_at(
    tenant: TenantHandle, ends_at: str
) -> None:
    plan = await create_plan(tenant.api)
    customer = await create_customer(tenant.api)
    errors = await subscription_errors(
        tenant.api, customer["id"], plan["id"], startedAt="2024-08-10T12:00:00Z", endsAt=ends_at
    )
    assert codes(errors) == [("INVALID", ["input", "endsAt"])]
    assert (await read_customer(tenant.api, customer["id"]))["subscriptions"]["totalCount"] == 0


async def test_create_subscription_rejects_ends_at_in_the_past_by_default(
    tenant: TenantHandle,
) -> None:
    """Without startedAt the subscription starts now, so a past endsAt is before it."""
    plan = await create_plan(tenant.api)
    customer = await create_customer(tenant.api)
    ends_at = iso(datetime.now(UTC) - timedelta(days=1))
    errors = await subscription_errors(tenant.api, customer["id"], plan["id"], endsAt=ends_at)
    assert codes(errors) == [("INVALID", ["input", "endsAt"])]


async def test_create_subscription_rejects_canceled_status(tenant: TenantHandle) -> None:
    plan = await create_plan(tenant.api)
    customer = await create_customer(tenant.api)
    errors = await subscription_errors(tenant.api, customer["id"], plan["id"], status="CANCELED")
    assert codes(errors) == [("INVALID", ["input", "status"])]
    assert (await read_customer(tenant.api, customer["id"]))["subscriptions"]["totalCount"] == 0


@pytest.mark.parametrize("started_at", ['"garbage"', '"2024-08-10T12:00:00"', "5"])
async def test_create_subscription_refuses_a_malformed_started_at_literal(
    tenant: TenantHandle, started_at: str
) -> None:
    plan = await create_plan(tenant.api)
    customer = await create_customer(tenant.api)
    document = (
        f'mutation {{ createSubscription(input: {{customerId: "{customer["id"]}", '
        f'planId: "{plan["id"]}", startedAt: {started_at}}}) {{ subscription {{ id }} }} }}'
    )
    assert_refused_not_masked(await tenant.api.gql(document), "DateTime")
    assert (await read_customer(tenant.api, customer["id"]))["subscriptions"]["totalCount"] == 0


# ---------------------------------------------------------------- cancelSubscription


async def test_cancel_subscription_sets_canceled_at_and_ends_at(tenant: TenantHandle) -> None:
    _, subscription = await subscribed_customer(tenant.api)
    payload = await payload_of(
        tenant.api, CANCEL_SUBSCRIPTION, {"input": {"id": subscription["id"]}}
    )

    assert payload["userErrors"] == []
    canceled = payload["subscription"]
    assert canceled["id"] == subscription["id"]
    assert canceled["status"] == "CANCELED"
    assert_now(canceled["canceledAt"])
    assert canceled["endsAt"] == canceled["canceledAt"]
    assert canceled["startedAt"] == subscription["startedAt"]
    assert at(canceled["updatedAt"]) > at(subscription["updatedAt"])


async def test_cancel_subscription_at_a_given_time(tenant: TenantHandle) -> None:
    plan = await create_plan(tenant.api)
    customer = await create_customer(tenant.api)
    subscription = await create_subscription(
        tenant.api,
        customer["id"],
        plan["id"],
        startedAt="2024-01-01T00:00:00Z",
        endsAt="2025-01-01T00:00:00Z",
    )
    variables = {"input": {"id": subscription["id"], "at": "2024-06-01T02:00:00+02:00"}}
    canceled = (await payload_of(tenant.api, CANCEL_SUBSCRIPTION, variables))["subscription"]

    assert canceled["status"] == "CANCELED"
    assert canceled["canceledAt"] == "2024-06-01T00:00:00Z"
    assert canceled["endsAt"] == "2024-06-01T00:00:00Z"


async def test_cancel_subscription_twice_is_a_no_op(tenant: TenantHandle) -> None:
    _, subscription = await subscribed_customer(tenant.api)
    variables = {"input": {"id": subscription["id"]}}
    first = await payload_of(tenant.api, CANCEL_SUBSCRIPTION, variables)
    second = await payload_of(tenant.api, CANCEL_SUBSCRIPTION, variables)

    assert second["userErrors"] == []
    assert second["subscription"] == first["subscription"]


async def test_cancel_subscription_rejects_at_before_started_at(tenant: TenantHandle) -> None:
    plan = await create_plan(tenant.api)
    customer = await create_customer(tenant.api)
    subscription = await create_subscription(
        tenant.api, customer["id"], plan["id"], startedAt="2024-08-10T12:00:00Z"
    )
    variables = {"input": {"id": subscription["id"], "at": "2024-08-10T11:59:59Z"}}
    errors = await user_errors(tenant.api, CANCEL_SUBSCRIPTION, variables)
    assert codes(errors) == [("INVALID", ["input", "at"])]

    (stored,) = (await read_customer(tenant.api, customer["id"]))["subscriptions"]["nodes"]
    assert stored["status"] == "ACTIVE"


async def test_cancel_subscription_of_another_tenant_is_not_found(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    customer, theirs = await subscribed_customer(other_tenant.api)

    errors = await user_errors(tenant.api, CANCEL_SUBSCRIPTION, {"input": {"id": theirs["id"]}})
    assert codes(errors) == [("NOT_FOUND", ["input", "id"])]
    variables = {"input": {"id": missing_id("Subscription")}}
    assert await user_errors(tenant.api, CANCEL_SUBSCRIPTION, variables) == errors

    (stored,) = (await read_customer(other_tenant.api, customer["id"]))["subscriptions"]["nodes"]
    assert stored["status"] == "ACTIVE"


# ---------------------------------------------------------------- createInstance


async def test_create_instance_defaults_to_provisioning(tenant: TenantHandle) -> None:
    customer = await create_customer(tenant.api)
    instance = await create_instance(tenant.api, customer["id"], name="  db-1  ", region="eu-1")

    assert instance["status"] == "PROVISIONING"
    assert instance["name"] == "db-1"
    assert instance["region"] == "eu-1"
    assert instance["customer"] == {"id": customer["id"]}
    assert instance["subscription"] is None
    assert_now(instance["createdAt"])
    assert instance["updatedAt"] == instance["createdAt"]

    stored = await read_customer(tenant.api, customer["id"])
    assert stored["instances"]["nodes"] == [instance]


async def test_create_instance_on_a_subscription_of_its_customer(tenant: TenantHandle) -> None:
    customer, subscription = await subscribed_customer(tenant.api)
    instance = await create_instance(
        tenant.api, customer["id"], subscriptionId=subscription["id"], status="RUNNING"
    )
    assert instance["subscription"] == {"id": subscription["id"]}
    assert instance["status"] == "RUNNING"


@pytest.mark.parametrize("whose", ["other-customer", "other-tenant", "missing"])
async def test_create_instance_rejects_a_subscription_of_another_customer(
    tenant: TenantHandle, other_tenant: TenantHandle, whose: str
) -> None:
    customer = await create_customer(tenant.api)
    if whose == "other-customer":
        _, subscription = await subscribed_customer(tenant.api)
        subscription_id = subscription["id"]
    elif whose == "other-tenant":
        _, subscription = await subscribed_customer(other_tenant.api)
        subscription_id = subscription["id"]
    else:
        subscription_id = missing_id("Subscription")

    errors = await instance_errors(tenant.api, customer["id"], subscriptionId=subscription_id)
    assert codes(errors) == [("NOT_FOUND", ["input", "subscriptionId"])]
    assert (await read_customer(tenant.api, customer["id"]))["instances"]["totalCount"] == 0


@pytest.mark.parametrize("name", ["", "  "])
async def test_create_instance_requires_a_name(tenant: TenantHandle, name: str) -> None:
    customer = await create_customer(tenant.api)
    errors = await instance_errors(tenant.api, customer["id"], name=name)
    assert codes(errors) == [("REQUIRED", ["input", "name"])]
    assert (await read_customer(tenant.api, customer["id"]))["instances"]["totalCount"] == 0


async def test_create_instance_rejects_an_archived_customer(tenant: TenantHandle) -> None:
    customer = await create_customer(tenant.api)
    await archive_customer(tenant.api, customer["id"])

    errors = await instance_errors(tenant.api, customer["id"])
    assert codes(errors) == [("ARCHIVED", ["input", "customerId"])]
    assert (await read_customer(tenant.api, customer["id"]))["instances"]["totalCount"] == 0


async def test_create_instance_rejects_a_customer_of_another_tenant(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    theirs = await create_customer(other_tenant.api)
    errors = await instance_errors(tenant.api, theirs["id"])
    assert codes(errors) == [("NOT_FOUND", ["input", "customerId"])]
    assert await instance_errors(tenant.api, missing_id("Customer")) == errors


# ---------------------------------------------------------------- setInstanceStatus


async def test_set_instance_status_changes_status_and_updated_at(tenant: TenantHandle) -> None:
    customer = await create_customer(tenant.api)
    instance = await create_instance(tenant.api, customer["id"])

    variables = {"id": instance["id"], "status": "RUNNING"}
    payload = await payload_of(tenant.api, SET_INSTANCE_STATUS, variables)
    assert payload["userErrors"] == []
    running = payload["instance"]
    assert running["status"] == "RUNNING"
    assert at(running["updatedAt"]) > at(instance["updatedAt"])
    assert running["createdAt"] == instance["createdAt"]

    (stored,) = (await read_customer(tenant.api, customer["id"]))["instances"]["nodes"]
    assert stored == running


async def test_set_instance_status_terminated_is_final(tenant: TenantHandle) -> None:
    customer = await create_customer(tenant.api)
    instance = await create_instance(tenant.api, customer["id"])
    variables = {"id": instance["id"], "status": "TERMINATED"}
    terminated = (await payload_of(tenant.api, SET_INSTANCE_STATUS, variables))["instance"]
    assert terminated["status"] == "TERMINATED"

    for status in ("RUNNING", "PROVISIONING", "STOPPED", "FAILED"):
        variables = {"id": instance["id"], "status": status}
        errors = await user_errors(tenant.api, SET_INSTANCE_STATUS, variables)
        assert codes(errors) == [("INVALID", ["input", "status"])]

    (stored,) = (await read_customer(tenant.api, customer["id"]))["instances"]["nodes"]
    assert stored == terminated


async def test_set_instance_status_of_another_tenant_is_not_found(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    customer = await create_customer(other_tenant.api)
    theirs = await create_instance(other_tenant.api, customer["id"])

    variables = {"id": theirs["id"], "status": "RUNNING"}
    errors = await user_errors(tenant.api, SET_INSTANCE_STATUS, variables)
    assert codes(errors) == [("NOT_FOUND", ["input", "id"])]
    variables = {"id": missing_id("Instance"), "status": "RUNNING"}
    assert await user_errors(tenant.api, SET_INSTANCE_STATUS, variables) == errors

    (stored,) = (await read_customer(other_tenant.api, customer["id"]))["instances"]["nodes"]
    assert stored == theirs


# ---------------------------------------------------------------- cloneCustomer

SOURCE: dict[str, Any] = {
    "handle": "acme-source",
    "externalId": "ext-acme-source",
    "ingestAliases": ["acme-alias"],
    "accountType": "INDIVIDUAL",
    "displayName": "Acme Source",
    "companyName": "Acme Corp",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "email": "source@acme.example",
    "phone": "+44 20 7946 0000",
    "countryCode": "GB",
    "currency": "GBP",
    "locale": "en-GB",
    "timezone": "Europe/London",
    "industry": "Software",
    "description": "The source customer",
    "runbook": "Call Ada first.",
    "customFields": [{"key": "segment", "value": "enterprise"}, {"key": "tier", "value": "gold"}],
    "billingConfig": {
        "billingProviderType": "STRIPE",
        "billingProviderCustomerId": "cus_source",
        "stripeCollectionMethod": "SEND_INVOICE",
        "awsProductCode": None,
        "awsRegion": None,
        "awsIsSubscriptionProduct": None,
    },
    "billingProviderConfigurations": [
        {
            "billingProvider": "STRIPE",
            "deliveryMethod": "DIRECT_TO_BILLING_PROVIDER",
            "deliveryMethodId": None,
            "configuration": {"collection": "auto", "days": 30},
        }
    ],
    "config": {"salesforceAccountId": "sf-001", "leaveStripeInvoicesInDraft": True},
    "stripeCustomerId": "cus_stripe_source",
}
ALWAYS_COPIED = (
    "accountType",
    "countryCode",
    "currency",
    "locale",
    "timezone",
    "industry",
    "description",
    "runbook",
)
RULES = ("customFields", "billingConfig", "billingProviderConfigurations", "config")


async def clone_source(tenant: TenantHandle) -> tuple[dict[str, Any], list[str]]:
    """A fully set-up source customer: subscriptions in four statuses and an instance.

    Returns the source and the plan ids of its ACTIVE and TRIALING subscriptions.
    """
    api = tenant.api
    source = await create_customer(api, **SOURCE)
    plans = [await create_plan(api, name=f"plan-{n}") for n in range(4)]
    await create_subscription(api, source["id"], plans[0]["id"], status="ACTIVE")
    await create_subscription(api, source["id"], plans[1]["id"], status="TRIALING")
    await create_subscription(api, source["id"], plans[2]["id"], status="PAST_DUE")
    canceled = await create_subscription(api, source["id"], plans[3]["id"])
    await payload_of(api, CANCEL_SUBSCRIPTION, {"input": {"id": canceled["id"]}})
    await create_instance(api, source["id"], status="RUNNING")
    return source, [plans[0]["id"], plans[1]["id"]]


async def clone(api: Api, **fields: Any) -> dict[str, Any]:
    payload = await payload_of(api, CLONE, {"input": fields})
    assert payload["userErrors"] == [], payload["userErrors"]
    customer: dict[str, Any] = payload["customer"]
    return customer


async def test_clone_customer_copies_profile_and_rules(tenant: TenantHandle) -> None:
    source, current_plans = await clone_source(tenant)
    copy = await clone(
        tenant.api,
        sourceCustomerId=source["id"],
        companyName="Acme Two",
        email="two@acme.example",
        displayName="Acme Two Ltd",
    )

    assert copy["id"] != source["id"]
    assert copy["companyName"] == "Acme Two"
    assert copy["email"] == "two@acme.example"
    assert copy["displayName"] == "Acme Two Ltd"
    for name in (*ALWAYS_COPIED, *RULES):
        assert copy[name] == source[name], name
    assert copy["version"] == 1
    assert copy["isArchived"] is False
    assert_now(copy["createdAt"])

    # One new ACTIVE subscription, starting now, per ACTIVE or TRIALING one of the source.
    subscriptions = copy["subscriptions"]
    assert subscriptions["totalCount"] == 2
    assert sorted(node["plan"]["id"] for node in subscriptions["nodes"]) == sorted(current_plans)
    for node in subscriptions["nodes"]:
        assert node["status"] == "ACTIVE"
        assert_now(node["startedAt"])

    # The source is unchanged.
    stored = await read_customer(tenant.api, source["id"])
    assert {k: stored[k] for k in source} == source
    assert stored["subscriptions"]["totalCount"] == 4


async def test_clone_customer_never_copies_identifiers_or_instances(tenant: TenantHandle) -> None:
    source, _ = await clone_source(tenant)
    copy = await clone(tenant.api, sourceCustomerId=source["id"], companyName="Acme Two")

    assert copy["handle"] is None
    assert copy["externalId"] is None
    assert copy["ingestAliases"] == []
    assert copy["stripeCustomerId"] is None
    assert copy["instances"]["totalCount"] == 0
    # Personal details are not in the list of copied fields either.
    assert copy["firstName"] is None
    assert copy["lastName"] is None
    assert copy["phone"] is None
    assert copy["email"] is None
    assert copy["displayName"] == "Acme Two"

    # The source's identifiers still resolve to the source alone.
    data = await tenant.api.data(
        'query { h: customer(handle: "acme-source") { id } '
        'a: customer(ingestAlias: "acme-alias") { id } }'
    )
    assert data == {"h": {"id": source["id"]}, "a": {"id": source["id"]}}


async def test_clone_customer_without_rules_copies_none_of_them(tenant: TenantHandle) -> None:
    source, _ = await clone_source(tenant)
    copy = await clone(
        tenant.api, sourceCustomerId=source["id"], companyName="Acme Bare", cloneRules=False
    )

    for name in ALWAYS_COPIED:
        assert copy[name] == source[name], name
    assert copy["customFields"] == []
    assert copy["billingConfig"] is None
    assert copy["billingProviderConfigurations"] == []
    assert copy["config"] == {"salesforceAccountId": None, "leaveStripeInvoicesInDraft": None}
    assert copy["subscriptions"] == {"totalCount": 0, "nodes": []}
    assert copy["instances"]["totalCount"] == 0


async def test_clone_customer_of_another_tenant_is_not_found(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    theirs = await create_customer(other_tenant.api, companyName="Theirs")
    variables = {"input": {"sourceCustomerId": theirs["id"], "companyName": "Stolen"}}
    errors = await user_errors(tenant.api, CLONE, variables)
    assert codes(errors) == [("NOT_FOUND", ["input", "sourceCustomerId"])]

    variables = {"input": {"sourceCustomerId": missing_id("Customer"), "companyName": "Stolen"}}
    assert await user_errors(tenant.api, CLONE, variables) == errors
    assert (await tenant.api.data(CUSTOMERS))["customers"]["totalCount"] == 0


async def test_clone_customer_rejects_a_taken_email(tenant: TenantHandle) -> None:
    source = await create_customer(tenant.api, email="source@acme.example")
    await create_customer(tenant.api, email="taken@acme.example")

    variables = {
        "input": {
            "sourceCustomerId": source["id"],
            "companyName": "Acme Two",
            "email": "TAKEN@acme.example",
        }
    }
    errors = await user_errors(tenant.api, CLONE, variables)
    assert codes(errors) == [("TAKEN", ["input", "email"])]
    assert (await tenant.api.data(CUSTOMERS))["customers"]["totalCount"] == 2


async def test_clone_customer_appears_in_customers(tenant: TenantHandle) -> None:
    source = await create_customer(tenant.api)
    copy = await clone(tenant.api, sourceCustomerId=source["id"], companyName="Acme Two")

    listed = (await tenant.api.data(CUSTOMERS))["customers"]
    assert listed["totalCount"] == 2
    assert [node["id"] for node in listed["nodes"]] == [copy["id"], source["id"]]


# ---------------------------------------------------------------- scopes

CUSTOMER_SCOPES = ["read:customers", "write:customers"]


async def assert_nothing_billing_written(tenant: TenantHandle) -> None:
    assert (await plans_list(tenant.api, include_archived=True))["totalCount"] == 0
    assert (await metrics_list(tenant.api, include_archived=True))["totalCount"] == 0


async def test_create_plan_requires_write_billing(tenant: TenantHandle) -> None:
    api = await tenant.key_with(CUSTOMER_SCOPES)
    body = await api.gql(CREATE_PLAN, {"input": {"name": "Plan", "charges": []}})
    forbidden(body, "createPlan", "write:billing")
    await assert_nothing_billing_written(tenant)


async def test_create_billable_metric_requires_write_billing(tenant: TenantHandle) -> None:
    api = await tenant.key_with(CUSTOMER_SCOPES)
    body = await api.gql(CREATE_METRIC, {"input": {"name": "m", "aggregationType": "COUNT"}})
    forbidden(body, "createBillableMetric", "write:billing")
    await assert_nothing_billing_written(tenant)


async def test_archive_billable_metric_requires_write_billing(tenant: TenantHandle) -> None:
    metric = await create_metric(tenant.api)
    api = await tenant.key_with([*CUSTOMER_SCOPES, "read:billing"])
    body = await api.gql(
        "mutation($id: ID!) { archiveBillableMetric(input: {id: $id}) { billableMetric { id } } }",
        {"id": metric["id"]},
    )
    forbidden(body, "archiveBillableMetric", "write:billing")
    assert (await metrics_list(tenant.api))["totalCount"] == 1


async def test_plans_requires_read_billing(tenant: TenantHandle) -> None:
    await create_plan(tenant.api)
    api = await tenant.key_with(CUSTOMER_SCOPES)
    body = await api.gql("query { plans { totalCount nodes { id } } viewer { scopes } }")
    forbidden(body, "plans", "read:billing")


async def test_billable_metrics_requires_read_billing(tenant: TenantHandle) -> None:
    await create_metric(tenant.api)
    api = await tenant.key_with(CUSTOMER_SCOPES)
    body = await api.gql("query { billableMetrics { totalCount nodes { id } } viewer { scopes } }")
    forbidden(body, "billableMetrics", "read:billing")


async def test_create_subscription_and_instance_need_only_customer_scopes(
    tenant: TenantHandle,
) -> None:
    plan = await create_plan(tenant.api)
    api = await tenant.key_with(CUSTOMER_SCOPES)
    customer = await create_customer(api)
    subscription = await create_subscription(api, customer["id"], plan["id"])
    await create_instance(api, customer["id"], subscriptionId=subscription["id"])
    payload = await payload_of(api, CANCEL_SUBSCRIPTION, {"input": {"id": subscription["id"]}})
    assert payload["subscription"]["status"] == "CANCELED"


async def test_customer_subscription_plan_charges_require_read_billing(
    tenant: TenantHandle,
) -> None:
    """read:billing guards plans and billable metrics (API.md), also when reached through a
    customer's subscriptions, as it does for Customer.billableMetrics."""
    metric = await create_metric(tenant.api, name="secret-metric")
    plan = await create_plan(
        tenant.api, charges=[{"billableMetricId": metric["id"], "unitPrice": "9.99"}]
    )
    customer = await create_customer(tenant.api)
    await create_subscription(tenant.api, customer["id"], plan["id"])

    api = await tenant.key_with(CUSTOMER_SCOPES)
    through_subscriptions = """
    query($id: ID!) {
      customer(id: $id) {
        subscriptions { nodes { plan { charges { unitPrice billableMetric { name sql } } } } }
      }
    }
    """
    body = await api.gql(through_subscriptions, {"id": customer["id"]})
    assert "secret-metric" not in str(body["data"]), body
    assert "9.99" not in str(body["data"]), body
    assert body.get("errors"), body
    for error in body["errors"]:
        assert error["extensions"] == {"code": "FORBIDDEN", "missingScopes": ["read:billing"]}

    direct = await api.gql(
        "query($id: ID!) { customer(id: $id) { billableMetrics { nodes { name } } } }",
        {"id": customer["id"]},
    )
    assert direct["errors"][0]["extensions"]["missingScopes"] == ["read:billing"], direct
