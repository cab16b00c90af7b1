"""Query limits before execution: depth, aliases, tokens, node cost, batch size."""

from __future__ import annotations

from conftest import TenantHandle, assert_statements, count_statements
from graphql import get_introspection_query
from starlette.applications import Starlette

CHAIN = "customers(first: 2) { nodes { " + "subscriptions(first: 2) { nodes { customer { " * 3
TWELVE = "{ " + CHAIN + "id" + " } } }" * 3 + " } } }"  # id is the 12th level
THIRTEEN = "{ " + CHAIN + "subscriptions { totalCount }" + " } } }" * 3 + " } } }"


async def test_cost_is_reported_for_every_answer(tenant: TenantHandle) -> None:
    query = "{ customers(first: 50) { nodes { subscriptions(first: 10) { nodes { id } } } } }"
    body = await tenant.api.full(query)
    assert body["extensions"]["cost"]["nodes"] == 50 + 50 * 10
    assert body["extensions"]["cost"]["limit"] == 50_000


async def test_node_cost_over_50000_is_refused_before_anything_runs(
    tenant: TenantHandle, app: Starlette
) -> None:
    query = """{ customers(first: 100) { nodes {
        subscriptions(first: 100) { nodes { customer { instances(first: 10) { nodes { id } } } } }
    } } }"""
    with count_statements(app) as statements:
        body = await tenant.api.full(query)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["cost"]["nodes"] == 100 + 100 * 100 + 100 * 100 * 10
    assert body["data"] is None
    assert_statements(statements, 1)  # the API key, nothing else


async def test_variables_count_toward_the_cost(tenant: TenantHandle) -> None:
    query = """query($n: Int) { customers(first: $n) { nodes {
        subscriptions(first: $n) { nodes { customer { instances(first: $n) { nodes { id } } } } }
    } } }"""
    small = await tenant.api.full(query, {"n": 10})
    assert "errors" not in small and small["extensions"]["cost"]["nodes"] == 10 + 100 + 1000
    large = await tenant.api.full(query, {"n": 40})
    assert large["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_depth_over_12_is_refused(tenant: TenantHandle) -> None:
    ok = await tenant.api.full(TWELVE)
    assert "errors" not in ok, ok
    deep = await tenant.api.full(THIRTEEN)
    assert deep["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert "depth 13" in deep["errors"][0]["message"]


async def test_more_than_30_aliases_are_refused(tenant: TenantHandle) -> None:
    thirty = "{ " + " ".join(f"a{n}: viewer {{ scopes }}" for n in range(30)) + " }"
    assert "errors" not in await tenant.api.full(thirty)
    many = "{ " + " ".join(f"a{n}: viewer {{ scopes }}" for n in range(31)) + " }"
    error = (await tenant.api.full(many))["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX" and "31 aliases" in error["message"]


async def test_more_than_5000_tokens_are_refused(tenant: TenantHandle) -> None:
    query = "{ " + " ".join(["__typename"] * 5001) + " }"
    error = (await tenant.api.full(query))["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_graphiql_introspection_is_not_limited(tenant: TenantHandle) -> None:
    body = await tenant.api.full(get_introspection_query(descriptions=True))
    assert "errors" not in body and body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_batches_are_bounded_to_10_operations(tenant: TenantHandle) -> None:
    http, auth = tenant.api.http, {"Authorization": f"Bearer {tenant.key}"}
    ten = await http.post("/graphql", json=[{"query": "{ viewer { scopes } }"}] * 10, headers=auth)
    assert ten.status_code == 200 and len(ten.json()) == 10
    eleven = await http.post(
        "/graphql", json=[{"query": "{ viewer { scopes } }"}] * 11, headers=auth
    )
    assert eleven.status_code == 400
