"""Nested reads are batched: statements depend on the query's shape, never on the data."""

from __future__ import annotations

from typing import Any

import httpx
from conftest import assert_statements, count_statements, make_tenant, operation
from seed import Seeded, seed_graph
from starlette.applications import Starlette

NESTED = operation("CustomersNested")
MAX_STATEMENTS = 10


async def _count(
    app: Starlette, client: httpx.AsyncClient, customers: int
) -> tuple[int, list[str], Any]:
    tenant = await make_tenant(app, client)
    await seed_graph(app, tenant.id, customers)
    with count_statements(app) as statements:
        data = await tenant.api.data(NESTED, {"first": customers})
    return len(statements), statements, data


async def test_customers_nested_statement_count_is_the_same_for_1_10_and_100(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    counts: dict[int, tuple[int, list[str]]] = {}
    for n in (1, 10, 100):
        count, statements, data = await _count(app, client, n)
        assert len(data["customers"]["nodes"]) == n
        assert count <= MAX_STATEMENTS, "\n".join(statements)
        counts[n] = (count, statements)
    reference, reference_sql = counts[1]
    for n in (10, 100):
        assert_statements(counts[n][1], reference)
    assert reference_sql


async def test_customers_nested_answers_each_customer_its_own_page_and_counts(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    tenant = await make_tenant(app, client)
    await seed_graph(app, tenant.id, 3)
    query = """
    { customers(first: 3) { nodes {
        subscriptions(first: 2) { totalCount pageInfo { hasNextPage } nodes { status startedAt } }
        active: subscriptions(status: [ACTIVE, TRIALING]) { totalCount nodes { status } }
        instances(first: 5, status: [RUNNING]) { totalCount nodes { name status } }
        billableMetrics { totalCount nodes { name } }
        current: billableMetrics(onCurrentPlan: true, includeArchived: true) { nodes { name } }
        subscriptionCount activeSubscriptionCount instanceCount runningInstanceCount
        latestSubscriptionStatus
    } } }
    """
    nodes = (await tenant.api.data(query))["customers"]["nodes"]
    assert len(nodes) == 3
    for node in nodes:
        page = node["subscriptions"]
        assert page["totalCount"] == 6 and page["pageInfo"]["hasNextPage"] is True
        assert [s["startedAt"] for s in page["nodes"]] == [
            "2024-01-06T00:00:00Z",
            "2024-01-05T00:00:00Z",
        ]
        assert node["active"]["totalCount"] == 3
        assert {s["status"] for s in node["active"]["nodes"]} == {"ACTIVE", "TRIALING"}
        assert node["instances"]["totalCount"] == 2
        assert [i["name"] for i in node["instances"]["nodes"]] == ["instance-3", "instance-0"]
        assert node["subscriptionCount"] == 6
        assert node["activeSubscriptionCount"] == 3
        assert node["instanceCount"] == 5
        assert node["runningInstanceCount"] == 2
        assert node["latestSubscriptionStatus"] == "EXPIRED"
        # Plans 0..2 charge metrics 0-1, 1-2 and 2-3; metric 3 is archived.
        assert sorted(m["name"] for m in node["billableMetrics"]["nodes"]) == [
            "metric-0",
            "metric-1",
            "metric-2",
        ]
        assert node["billableMetrics"]["totalCount"] == 3
        # Current (ACTIVE/TRIALING) subscriptions are numbers 0, 2 and 4: plans 0, 2, 1.
        assert sorted(m["name"] for m in node["current"]["nodes"]) == [
            "metric-0",
            "metric-1",
            "metric-2",
            "metric-3",
        ]


async def test_nested_connection_pages_forward_with_its_cursor(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    tenant = await make_tenant(app, client)
    await seed_graph(app, tenant.id, 2)
    query = """
    query($after: String) { customers { nodes { displayName
        subscriptions(first: 4, after: $after) { pageInfo { endCursor hasNextPage }
          nodes { startedAt } } } } }
    """
    first = (await tenant.api.data(query))["customers"]["nodes"]
    assert [s["startedAt"][:10] for s in first[0]["subscriptions"]["nodes"]] == [
        "2024-01-06",
        "2024-01-05",
        "2024-01-04",
        "2024-01-03",
    ]
    cursor = first[0]["subscriptions"]["pageInfo"]["endCursor"]
    second = (await tenant.api.data(query, {"after": cursor}))["customers"]["nodes"]
    # A cursor belongs to the customer whose page made it.
    page = second[0]["subscriptions"]
    assert second[0]["displayName"] == first[0]["displayName"]
    assert [s["startedAt"][:10] for s in page["nodes"]] == ["2024-01-02", "2024-01-01"]
    assert page["pageInfo"]["hasNextPage"] is False


async def test_customer_without_children_answers_empty_pages_and_zero_counts(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    tenant = await make_tenant(app, client)
    await seed_graph(app, tenant.id, 1, per_customer=0)
    query = """{ customers { nodes { subscriptions { totalCount nodes { id } }
        instances { nodes { id } } billableMetrics { nodes { id } }
        subscriptionCount instanceCount latestSubscriptionStatus } } }"""
    node = (await tenant.api.data(query))["customers"]["nodes"][0]
    assert node == {
        "subscriptions": {"totalCount": 0, "nodes": []},
        "instances": {"nodes": []},
        "billableMetrics": {"nodes": []},
        "subscriptionCount": 0,
        "instanceCount": 0,
        "latestSubscriptionStatus": None,
    }


def _keys(seeded: Seeded) -> list[tuple[str, list[int]]]:
    """Up to 31 keys of every entity type: every type appears, at most 100 in all."""
    return [
        ("Customer", seeded.customers[:31]),
        ("Subscription", seeded.subscriptions[:31]),
        ("Instance", seeded.instances[:31]),
        ("Plan", seeded.plans),
        ("BillableMetric", seeded.metrics),
    ]


async def test_entities_of_mixed_types_are_batched(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    query = """query($r: [_Any!]!) { _entities(representations: $r) {
        __typename ... on Node { id } } }"""
    counts = []
    for customers in (2, 40):
        tenant = await make_tenant(app, client)
        seeded = await seed_graph(app, tenant.id, customers, per_customer=2)
        typed = [(t, i) for t, keys in _keys(seeded) for i in seeded.ids(t, keys)]
        representations = [{"__typename": t, "id": i} for t, i in typed]
        with count_statements(app) as statements:
            data = await tenant.api.data(query, {"r": representations})
        assert len(typed) == (100 if customers == 40 else 17)
        assert [e["id"] for e in data["_entities"]] == [i for _, i in typed]
        assert [e["__typename"] for e in data["_entities"]] == [t for t, _ in typed]
        counts.append(statements)
    assert_statements(counts[1], len(counts[0]))


async def test_nodes_of_mixed_types_are_batched(app: Starlette, client: httpx.AsyncClient) -> None:
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"
    counts = []
    for customers in (2, 40):
        tenant = await make_tenant(app, client)
        seeded = await seed_graph(app, tenant.id, customers, per_customer=2)
        ids = [i for t, keys in _keys(seeded) for i in seeded.ids(t, keys)]
        with count_statements(app) as statements:
            data = await tenant.api.data(query, {"ids": ids})
        assert len(ids) == (100 if customers == 40 else 17)
        assert [n["id"] for n in data["nodes"]] == ids
        counts.append(statements)
    assert_statements(counts[1], len(counts[0]))


async def test_other_tenant_sees_none_of_the_children(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    owner = await make_tenant(app, client)
    seeded = await seed_graph(app, owner.id, 2)
    intruder = await make_tenant(app, client)
    ids = [
        *seeded.ids("Subscription", seeded.subscriptions[:3]),
        *seeded.ids("Instance", seeded.instances[:3]),
        *seeded.ids("Plan", seeded.plans),
        *seeded.ids("BillableMetric", seeded.metrics),
    ]
    data = await intruder.api.data("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})
    assert data["nodes"] == [None] * len(ids)
    lists = await intruder.api.data(
        "{ plans { totalCount } billableMetrics(includeArchived: true) { totalCount } }"
    )
    assert lists == {"plans": {"totalCount": 0}, "billableMetrics": {"totalCount": 0}}


async def test_bench_queries_make_the_same_statements_whatever_the_data(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    """bench/'s q1, q2 and q3: the key, the page (and one query per child list)."""
    expected = {"BenchQ1": 2, "BenchQ2": 4, "BenchQ3": 2}
    for customers in (10, 60):
        tenant = await make_tenant(app, client)
        seeded = await seed_graph(app, tenant.id, customers)
        variables = {"id": seeded.ids("Customer", seeded.customers[:1])[0]}
        for name, count in expected.items():
            with count_statements(app) as statements:
                await tenant.api.data(operation(name), variables if name == "BenchQ3" else None)
            assert_statements(statements, count)


async def test_q2_makes_four_statements_at_10_50_and_100_customers_a_page(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    """Issue 7's pin: q2's statements do not grow with the page (key, page, two child lists)."""
    tenant = await make_tenant(app, client)
    await seed_graph(app, tenant.id, 100, per_customer=11)
    for size in (10, 50, 100):
        document = operation("BenchQ2").replace("customers(first: 50)", f"customers(first: {size})")
        with count_statements(app) as statements:
            data = await tenant.api.data(document)
        assert len(data["customers"]["nodes"]) == size
        assert {len(n["subscriptions"]["nodes"]) for n in data["customers"]["nodes"]} == {10}
        assert_statements(statements, 4)
