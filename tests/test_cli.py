"""The `customergraph` command, run as a user runs it, on both databases."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, Api, TenantHandle, free_port

from bench.cpu import family

DEMO_COUNT = 50


def run(database_url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout.strip().splitlines()[-1]


async def test_create_tenant_and_key_work_over_http(
    database_url: str, client: httpx.AsyncClient
) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    tenant_id = uuid.UUID(last_line(run(database_url, "create-tenant", name)))
    key = last_line(run(database_url, "create-api-key", "--tenant", name))
    data = await Api(client, key).data("{ viewer { tenant { name } scopes } }")
    assert data["viewer"]["tenant"]["name"] == name
    assert len(data["viewer"]["scopes"]) == 5
    by_id = last_line(run(database_url, "create-api-key", "--tenant", str(tenant_id)))
    assert by_id != key and by_id.startswith("cg_")


async def test_create_api_key_with_scopes_limits_the_key(
    database_url: str, client: httpx.AsyncClient
) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    run(database_url, "create-tenant", name)
    key = last_line(
        run(
            database_url,
            "create-api-key",
            "--tenant",
            name,
            "--scope",
            "read:customers",
            "--scope",
            "read:billing",
        )
    )
    api = Api(client, key)
    assert (await api.data("{ viewer { scopes } }"))["viewer"]["scopes"] == [
        "read:billing",
        "read:customers",
    ]
    body = await api.gql(
        'mutation { createCustomer(input: {displayName: "x"}) { userErrors { code } } }'
    )
    assert body["errors"][0]["extensions"] == {
        "code": "FORBIDDEN",
        "missingScopes": ["write:customers"],
    }


def test_cli_mistakes_are_clear_errors_without_traceback(database_url: str) -> None:
    for args in (
        ("create-api-key", "--tenant", "no-such-tenant"),
        ("create-api-key", "--tenant", "no-such-tenant", "--scope", "root"),
    ):
        result = run(database_url, *args, check=False)
        assert result.returncode == 1
        assert "error:" in result.stderr and "Traceback" not in result.stderr
    name = f"cli-{uuid.uuid4().hex[:8]}"
    run(database_url, "create-tenant", name)
    duplicate = run(database_url, "create-tenant", name, check=False)
    assert duplicate.returncode == 1 and "exists" in duplicate.stderr


async def test_seed_demo_is_idempotent_and_prints_a_working_key(
    database_url: str, client: httpx.AsyncClient
) -> None:
    first = last_line(run(database_url, "seed-demo"))
    second = last_line(run(database_url, "seed-demo"))
    assert first != second
    query = """{ customers(first: 100) { totalCount nodes { displayName email
        subscriptionCount instanceCount subscriptions { nodes { plan { name } } } } }
        plans { totalCount nodes { name charges { billableMetric { name } } } }
        billableMetrics { totalCount } }"""
    answers = [await Api(client, key).data(query) for key in (first, second)]
    assert answers[0] == answers[1], "a second seed-demo changed the demo data"
    data = answers[0]
    assert data["customers"]["totalCount"] == DEMO_COUNT
    names = {node["displayName"] for node in data["customers"]["nodes"]}
    assert len(names) == DEMO_COUNT and "Acme" in names
    assert data["plans"]["totalCount"] == 3 and data["billableMetrics"]["totalCount"] == 5
    nodes = data["customers"]["nodes"]
    assert all(node["subscriptionCount"] >= 1 for node in nodes)
    assert sum(node["instanceCount"] for node in nodes) > DEMO_COUNT // 2


def test_migrate_creates_a_fresh_sqlite_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = run(url, "migrate")
    assert "latest version" in result.stderr
    assert (tmp_path / "fresh.db").exists()
    again = run(url, "migrate")
    assert again.returncode == 0


def test_export_schema_prints_sdl(database_url: str) -> None:
    sdl = run(database_url, "export-schema").stdout
    assert "type Customer implements Node" in sdl and "schema @link" in sdl


async def test_readme_example_query_runs_against_the_seeded_demo(
    database_url: str, client: httpx.AsyncClient
) -> None:
    readme = (ROOT / "README.md").read_text()
    document = (ROOT / "tests" / "operations" / "ReadmeExample.graphql").read_text()
    query = document.split("\n", 1)[1].strip()
    assert query in readme, "the README shows tests/operations/ReadmeExample.graphql"
    key = last_line(run(database_url, "seed-demo"))
    data = await Api(client, key).data(document)
    assert data["viewer"]["tenant"]["name"] == "Demo"
    nodes = data["customers"]["nodes"]
    assert nodes and all(node["countryCode"] == "DE" for node in nodes)
    names = [node["displayName"] for node in nodes]
    assert names == sorted(names)


async def test_seed_demo_usage_shows_in_costs(database_url: str, client: httpx.AsyncClient) -> None:
    key = last_line(run(database_url, "seed-demo"))
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    query = """query($s: DateTime!, $e: DateTime!) { customers(first: 10) { nodes {
        costs(startingOn: $s, endingBefore: $e) { creditTypes { cost lineItems { quantity } } }
    } } }"""
    variables = {"s": (today - timedelta(days=30)).isoformat(), "e": today.isoformat()}
    data = await Api(client, key).data(query, variables)
    quantities = [
        Decimal(item["quantity"])
        for node in data["customers"]["nodes"]
        for bucket in node["costs"]
        for credit in bucket["creditTypes"]
        for item in credit["lineItems"]
    ]
    assert quantities and any(q > 0 for q in quantities)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_serve_with_two_workers_answers_from_both(
    database_url: str, tenant: TenantHandle, tmp_path: Path
) -> None:
    """`customergraph serve --workers 2`: two worker processes under one supervisor, and
    concurrent requests are answered (issue 7's multi-worker serving)."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "RATE_LIMIT_PER_MINUTE": "0"}
    command = [sys.executable, "-m", "cli", "serve", "--port", str(port), "--workers", "2"]
    with (tmp_path / "server.log").open("wb") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)  # noqa: ASYNC220
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            for _ in range(120):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.25)
            workers = family(server.pid)[1:]
            assert len(workers) >= 2, workers
            headers = {"Authorization": f"Bearer {tenant.key}"}
            body = {"query": "{ viewer { tenant { name } } }"}
            answers = await asyncio.gather(
                *(http.post("/graphql", json=body, headers=headers) for _ in range(20))
            )
        assert {a.status_code for a in answers} == {200}
        assert {a.json()["data"]["viewer"]["tenant"]["name"] for a in answers} == {tenant.name}
    finally:
        server.terminate()
        server.wait(timeout=30)
