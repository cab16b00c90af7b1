"""Races against the real server process (ARCHITECTURE.md, Database and Concurrency).

Uniqueness is settled by the database, so of concurrent creates with one email exactly one
wins and the others get TAKEN (never a 500); `expectedVersion` lets exactly one of
concurrent updates win. Sibling fields that start loader batches in the same tick share
one unit of work without "concurrent operations are not permitted".
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from conftest import Api, LiveServer, TenantHandle, make_tenant, start_server, stop_server
from helpers import create_customer
from starlette.applications import Starlette

CONCURRENCY = 20
CREATE = """
mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id email version }
    userErrors { field code message }
  }
}
"""
UPDATE = """
mutation($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) {
    customer { id version description }
    userErrors { field code message }
  }
}
"""
READ = """
query($id: ID!) { customer(id: $id) { id version description } }
"""
COUNT = "query($search: String!) { customers(search: $search) { totalCount nodes { id } } }"


@pytest.fixture
async def live(
    live_server: LiveServer, app: Starlette, client: httpx.AsyncClient
) -> AsyncIterator[Api]:
    """A fresh tenant (written by the in-process app into the server's database) whose key
    is used over a real socket to the `customergraph serve` process."""
    tenant = await make_tenant(app, client)
    limits = httpx.Limits(max_connections=CONCURRENCY * 2)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=60, limits=limits) as http:
        yield Api(http, tenant.key)


async def gather_bodies(
    live: Api, query: str, variables: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Send all requests at once; every one must be an HTTP 200 without GraphQL errors."""
    responses = await asyncio.gather(*(live.post(query, v) for v in variables))
    bodies: list[dict[str, Any]] = []
    for response in responses:
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        bodies.append(body)
    return bodies


@pytest.mark.parametrize("vary_case", [False, True])
async def test_concurrent_creates_with_one_email_have_one_winner(
    live: Api, vary_case: bool
) -> None:
    email = f"race-{uuid.uuid4().hex[:10]}@example.com"
    inputs = [
        {
            "input": {
                "displayName": f"Racer {n}",
                "email": email.upper() if vary_case and n % 2 else email,
            }
        }
        for n in range(CONCURRENCY)
    ]
    bodies = await gather_bodies(live, CREATE, inputs)
    payloads = [body["data"]["createCustomer"] for body in bodies]
    winners = [p for p in payloads if p["customer"] is not None]
    losers = [p for p in payloads if p["customer"] is None]
    assert len(winners) == 1, payloads
    assert winners[0]["userErrors"] == []
    assert len(losers) == CONCURRENCY - 1
    for payload in losers:
        errors = [(e["code"], e["field"]) for e in payload["userErrors"]]
        assert errors == [("TAKEN", ["input", "email"])], payload
    count = await live.data(COUNT, {"search": email})
    assert count["customers"]["totalCount"] == 1
    assert count["customers"]["nodes"] == [{"id": winners[0]["customer"]["id"]}]


async def test_concurrent_creates_with_distinct_emails_all_succeed(live: Api) -> None:
    run = uuid.uuid4().hex[:10]
    emails = [f"distinct-{run}-{n}@example.com" for n in range(CONCURRENCY)]
    inputs = [{"input": {"displayName": f"Distinct {n}", "email": e}} for n, e in enumerate(emails)]
    bodies = await gather_bodies(live, CREATE, inputs)
    payloads = [body["data"]["createCustomer"] for body in bodies]
    assert all(p["userErrors"] == [] for p in payloads), payloads
    assert [p["customer"]["email"] for p in payloads] == emails
    assert len({p["customer"]["id"] for p in payloads}) == CONCURRENCY
    count = await live.data(COUNT, {"search": f"distinct-{run}-"})
    assert count["customers"]["totalCount"] == CONCURRENCY


async def test_concurrent_updates_with_one_expected_version_have_one_winner(
    live: Api,
) -> None:
    created = await live.data(CREATE, {"input": {"displayName": "Versioned"}})
    customer = created["createCustomer"]["customer"]
    initial = customer["version"]
    inputs = [
        {
            "input": {
                "id": customer["id"],
                "expectedVersion": initial,
                "description": f"writer {n}",
            }
        }
        for n in range(CONCURRENCY)
    ]
    bodies = await gather_bodies(live, UPDATE, inputs)
    payloads = [body["data"]["updateCustomer"] for body in bodies]
    winners = [p for p in payloads if p["customer"] is not None]
    assert len(winners) == 1, payloads
    assert winners[0]["userErrors"] == []
    assert winners[0]["customer"]["version"] == initial + 1
    losers = [p for p in payloads if p["customer"] is None]
    assert len(losers) == CONCURRENCY - 1
    for payload in losers:
        errors = [(e["code"], e["field"]) for e in payload["userErrors"]]
        assert errors == [("CONFLICT", ["input", "expectedVersion"])], payload
    final = (await live.data(READ, {"id": customer["id"]}))["customer"]
    assert final["version"] == initial + 1
    # The stored change is the winner's, and only the winner's.
    assert final["description"] == winners[0]["customer"]["description"]


SIBLING_LOADERS = """
query($id: ID!, $ids: [ID!]!) {
  a: customer(id: $id) { id ingestAliases }
  b: customers(first: 10) { totalCount nodes { id ingestAliases } }
  c: nodes(ids: $ids) { id ... on Customer { ingestAliases } }
  d: customer(id: $id) { email }
  viewer { scopes }
}
"""


async def check_sibling_loaders(api: Api) -> None:
    ids: list[str] = []
    for n in range(3):
        created = await api.data(
            CREATE,
            {
                "input": {
                    "displayName": f"Sibling {n}",
                    "email": f"sibling-{n}@example.com",
                    "ingestAliases": [f"sibling-{n}-a", f"sibling-{n}-b"],
                }
            },
        )
        ids.append(created["createCustomer"]["customer"]["id"])
    variables = {"id": ids[0], "ids": [ids[2], ids[1], ids[0]]}
    expected = {
        "a": {"id": ids[0], "ingestAliases": ["sibling-0-a", "sibling-0-b"]},
        "b": {
            "totalCount": 3,
            "nodes": [
                {"id": ids[n], "ingestAliases": [f"sibling-{n}-a", f"sibling-{n}-b"]}
                for n in (2, 1, 0)
            ],
        },
        "c": [
            {"id": ids[n], "ingestAliases": [f"sibling-{n}-a", f"sibling-{n}-b"]} for n in (2, 1, 0)
        ],
        "d": {"email": "sibling-0@example.com"},
    }
    # Each request gets a fresh session whose first statements race for its connection;
    # repeat, one after another and all at once.
    for _ in range(5):
        data = await api.data(SIBLING_LOADERS, variables)
        assert {k: v for k, v in data.items() if k != "viewer"} == expected
    answers = await asyncio.gather(*(api.data(SIBLING_LOADERS, variables) for _ in range(10)))
    for data in answers:
        assert {k: v for k, v in data.items() if k != "viewer"} == expected


async def test_sibling_loaders_in_the_same_tick_on_the_live_server(live: Api) -> None:
    await check_sibling_loaders(live)


async def test_sibling_loaders_in_the_same_tick_in_process(tenant: TenantHandle) -> None:
    await check_sibling_loaders(tenant.api)


async def test_concurrent_direct_reads_of_two_tenants_see_their_own_rows_only(
    database_url: str, app: Starlette, client: httpx.AsyncClient, tmp_path: Any
) -> None:
    """Two tenants' reads at once through the direct lane of a real server with two read
    connections: every connection serves both tenants in turn, and every answer holds the
    asking tenant's rows alone (its key lookup names the connection's tenant each time)."""
    tenants = [await make_tenant(app, client) for _ in range(2)]
    owned: list[set[str]] = []
    for number, tenant in enumerate(tenants):
        made = [await create_customer(tenant.api, displayName=f"t{number}-{n}") for n in range(3)]
        owned.append({customer["id"] for customer in made})
    server = await asyncio.to_thread(
        start_server, database_url, tmp_path / "server.log", DB_POOL_SIZE="2"
    )
    page = "{ customers(first: 50) { totalCount nodes { id } } }"
    other = "query($id: ID!) { customer(id: $id) { id } }"
    try:
        limits = httpx.Limits(max_connections=CONCURRENCY * 2)
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as http:
            apis = [Api(http, tenant.key) for tenant in tenants]
            their_ids = [next(iter(owned[1])), next(iter(owned[0]))]
            calls = []
            for n in range(CONCURRENCY * 5):
                who = n % 2
                if n % 3:
                    calls.append((who, "page", apis[who].post(page)))
                else:
                    calls.append((who, "other", apis[who].post(other, {"id": their_ids[who]})))
            responses = await asyncio.gather(*(call for _, _, call in calls))
    finally:
        await asyncio.to_thread(stop_server, server)
    for (who, kind, _), response in zip(calls, responses, strict=True):
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        if kind == "other":
            assert data == {"customer": None}
        else:
            assert {node["id"] for node in data["customers"]["nodes"]} == owned[who]
            assert data["customers"]["totalCount"] == 3
