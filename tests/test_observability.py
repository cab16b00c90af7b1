"""Observability as an operator sees it: JSON request logs, /metrics, request ids, traces."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from conftest import LiveServer, make_tenant, start_server, stop_server
from starlette.applications import Starlette


@pytest.fixture(scope="module")
def observed(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server logging every request at info level, with console tracing switched on."""
    log = tmp_path_factory.mktemp("observed") / "server.log"
    server = start_server(database_url, log, LOG_LEVEL="info", OTEL_TRACES_EXPORTER="console")
    yield server
    stop_server(server)


def log_lines(server: LiveServer) -> list[dict[str, Any]]:
    lines = []
    for line in server.log.read_text().splitlines():
        if line.startswith("{") and '"logger"' in line:
            lines.append(orjson.loads(line))
    return lines


def wait_for(predicate: Any, seconds: float = 5) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    return predicate()


async def test_each_request_logs_one_json_line_with_its_figures(
    observed: LiveServer, app: Starlette, client: httpx.AsyncClient
) -> None:
    tenant = await make_tenant(app, client)
    async with httpx.AsyncClient(base_url=observed.url, timeout=10) as http:
        response = await http.post(
            "/graphql",
            json={"query": "query Listing { customers(first: 2) { totalCount nodes { id } } }"},
            headers={"Authorization": f"Bearer {tenant.key}", "X-Request-Id": "req-abc-123"},
        )
        failing = await http.post(
            "/graphql",
            json={"query": "query Broken { customers(first: 500) { totalCount } }"},
            headers={"Authorization": f"Bearer {tenant.key}"},
        )
    assert response.headers["x-request-id"] == "req-abc-123"
    generated = failing.headers["x-request-id"]
    assert len(generated) == 32
    mine = wait_for(
        lambda: [r for r in log_lines(observed) if r.get("request_id") == "req-abc-123"]
    )
    assert len(mine) == 1
    line = mine[0]
    assert line["message"] == "request" and line["status"] == 200 and line["path"] == "/graphql"
    assert line["tenant"] == str(tenant.id) and line["operation"] == "Listing"
    assert line["sql_statements"] == 3  # the key, the page and its count
    assert line["duration_ms"] > 0 and line["error_codes"] == []
    broken = wait_for(lambda: [r for r in log_lines(observed) if r.get("request_id") == generated])
    assert broken[0]["operation"] == "Broken"
    assert broken[0]["error_codes"] == ["BAD_USER_INPUT"]


async def test_metrics_count_requests_statements_errors_and_pool(
    observed: LiveServer, app: Starlette, client: httpx.AsyncClient
) -> None:
    tenant = await make_tenant(app, client)
    async with httpx.AsyncClient(base_url=observed.url, timeout=10) as http:
        headers = {"Authorization": f"Bearer {tenant.key}"}
        for _ in range(3):
            await http.post("/graphql", json={"query": "{ viewer { scopes } }"}, headers=headers)
        await http.post("/graphql", json={"query": '{ node(id: "!") { id } }'}, headers=headers)
        text = (await http.get("/metrics")).text
    assert 'customergraph_requests_total{method="POST",path="/graphql",status="200"}' in text
    assert "customergraph_request_duration_seconds_bucket" in text
    assert "customergraph_sql_statements_per_request_count" in text
    assert 'customergraph_graphql_errors_total{code="BAD_USER_INPUT"}' in text
    assert 'customergraph_db_pool_connections{state="in_use"}' in text
    assert "customergraph_read_pool_connections" in text
    counted = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(
            'customergraph_requests_total{method="POST",path="/graphql",status="200"}'
        )
    ]
    assert counted and counted[0] >= 4


async def test_tracing_exports_request_and_graphql_spans(
    observed: LiveServer, app: Starlette, client: httpx.AsyncClient
) -> None:
    tenant = await make_tenant(app, client)
    async with httpx.AsyncClient(base_url=observed.url, timeout=10) as http:
        await http.post(
            "/graphql",
            json={"query": "query Traced { viewer { scopes } }"},
            headers={"Authorization": f"Bearer {tenant.key}"},
        )
        await http.post(  # answered by the direct lane: its span is named the same way
            "/graphql",
            json={"query": "query TracedDirect { customers(first: 1) { nodes { id } } }"},
            headers={"Authorization": f"Bearer {tenant.key}"},
        )
    text = wait_for(lambda: "TracedDirect" in observed.log.read_text() and observed.log.read_text())
    assert '"name": "POST /graphql"' in text
    assert "GraphQL Query: Traced" in text or '"graphql.operation.name": "Traced"' in text
    assert '"name": "GraphQL Query: TracedDirect"' in text
    assert '"customergraph.lane": "direct"' in text
