"""GET /events: every acknowledged change arrives once, in order, across processes and
reconnects; a rolled-back change never does; tenants see only their own events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from conftest import LiveServer, TenantHandle, make_tenant, start_server, stop_server
from starlette.applications import Starlette

CREATE = """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) {
  customer { id version } userErrors { code } } }"""
RENAME = """mutation($id: ID!, $name: String!) { setCustomerName(input: {id: $id, name: $name}) {
  customer { id version } userErrors { code } } }"""
ARCHIVE = """mutation($id: ID!) { archiveCustomer(input: {id: $id}) {
  customer { id version } userErrors { code } } }"""
RESTORE = """mutation($id: ID!) { restoreCustomer(input: {id: $id}) {
  customer { id version } userErrors { code } } }"""
WAIT_SECONDS = 15


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    customer_id: str
    version: int


@pytest.fixture(scope="module")
def servers(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[LiveServer]]:
    """Two server processes on one database: writes on one, streams read on the other."""
    folder = tmp_path_factory.mktemp("events")
    started = [start_server(database_url, folder / f"server-{n}.log") for n in range(2)]
    yield started
    for server in started:
        stop_server(server)


class Listener:
    """A real SSE client reading in the background."""

    def __init__(
        self, url: str, key: str, last_event_id: int | None = None, customer_id: str | None = None
    ) -> None:
        self.url, self.key, self.last_event_id = url, key, last_event_id
        self.params = {"customerId": customer_id} if customer_id else {}
        self.events: list[Event] = []
        self.ready = asyncio.Event()

    async def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "text/event-stream"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(5, read=None)) as http,
            http.stream(
                "GET", f"{self.url}/events", headers=headers, params=self.params
            ) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line.startswith("retry:"):
                    self.ready.set()
                elif not line:
                    if "data" in fields:
                        data = orjson.loads(fields["data"])
                        assert data["type"] == fields["event"]
                        self.events.append(
                            Event(
                                int(fields["id"]), data["type"], data["customerId"], data["version"]
                            )
                        )
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields[name] = value.strip()

    async def wait_for(self, count: int) -> list[Event]:
        for _ in range(WAIT_SECONDS * 20):
            if len(self.events) >= count:
                return self.events
            await asyncio.sleep(0.05)
        return self.events


@contextlib.asynccontextmanager
async def listening(
    url: str, key: str, last_event_id: int | None = None, customer_id: str | None = None
) -> AsyncIterator[Listener]:
    listener = Listener(url, key, last_event_id, customer_id)
    task = asyncio.create_task(listener.run())
    try:
        await asyncio.wait_for(listener.ready.wait(), 10)
        yield listener
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await task


async def mutate(url: str, key: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            f"{url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {key}"},
        )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    payload: dict[str, Any] = next(iter(body["data"].values()))
    return payload


async def change_customers(
    url: str, tenant: TenantHandle, count: int
) -> list[tuple[str, str, int]]:
    """Create, rename twice, archive and restore customers; the acknowledged changes."""
    acknowledged: list[tuple[str, str, int]] = []
    ids = []
    for n in range(count):
        created = await mutate(url, tenant.key, CREATE, {"input": {"displayName": f"c{n}"}})
        ids.append(created["customer"]["id"])
        acknowledged.append(("CREATED", created["customer"]["id"], created["customer"]["version"]))
    for round_ in range(2):
        for n, customer_id in enumerate(ids):
            payload = await mutate(
                url, tenant.key, RENAME, {"id": customer_id, "name": f"c{n}-{round_}"}
            )
            acknowledged.append(("UPDATED", customer_id, payload["customer"]["version"]))
    for kind, query in (("ARCHIVED", ARCHIVE), ("RESTORED", RESTORE)):
        payload = await mutate(url, tenant.key, query, {"id": ids[0]})
        acknowledged.append((kind, ids[0], payload["customer"]["version"]))
    return acknowledged


def assert_delivered(events: list[Event], acknowledged: list[tuple[str, str, int]]) -> None:
    delivered = [(e.type, e.customer_id, e.version) for e in events]
    assert sorted(delivered) == sorted(acknowledged), "every acknowledged change exactly once"
    assert [e.id for e in events] == sorted({e.id for e in events}), "ids strictly increase"
    for customer_id in {c for _, c, _ in acknowledged}:
        versions = [v for _, c, v in delivered if c == customer_id]
        assert versions == sorted(versions), f"out of order for {customer_id}"


async def test_changes_on_one_process_stream_from_another(
    servers: list[LiveServer], app: Starlette, client: httpx.AsyncClient
) -> None:
    writer, reader = servers
    tenant = await make_tenant(app, client)
    async with listening(reader.url, tenant.key) as listener:
        acknowledged = await change_customers(writer.url, tenant, 4)
        events = await listener.wait_for(len(acknowledged))
        await asyncio.sleep(0.3)  # nothing more may arrive
    assert_delivered(listener.events, acknowledged)
    assert len(events) == len(acknowledged) == 14


async def test_reconnect_with_last_event_id_resumes_without_gaps(
    servers: list[LiveServer], app: Starlette, client: httpx.AsyncClient
) -> None:
    writer, reader = servers
    tenant = await make_tenant(app, client)
    async with listening(reader.url, tenant.key) as first:
        before = await change_customers(writer.url, tenant, 2)
        seen = await first.wait_for(len(before))
    last_id = seen[len(before) // 2 - 1].id
    kept = [e for e in seen if e.id <= last_id]
    after = await change_customers(writer.url, tenant, 2)  # while disconnected
    async with listening(reader.url, tenant.key, last_event_id=last_id) as second:
        expected = len(before) + len(after) - len(kept)
        resumed = await second.wait_for(expected)
        await asyncio.sleep(0.3)
    assert_delivered(kept + second.events, before + after)
    assert len(resumed) == expected


async def test_rolled_back_change_has_no_event_and_tenants_are_apart(
    servers: list[LiveServer], app: Starlette, client: httpx.AsyncClient
) -> None:
    writer, reader = servers
    tenant, other = await make_tenant(app, client), await make_tenant(app, client)
    async with (
        listening(reader.url, tenant.key) as mine,
        listening(reader.url, other.key) as theirs,
    ):
        created = await mutate(
            writer.url, tenant.key, CREATE, {"input": {"displayName": "a", "email": "a@x.io"}}
        )
        refused = await mutate(
            writer.url, tenant.key, CREATE, {"input": {"displayName": "b", "email": "A@x.io"}}
        )
        assert refused["userErrors"] == [{"code": "TAKEN"}]
        await mine.wait_for(1)
        await asyncio.sleep(1.5)
    assert [(e.type, e.customer_id) for e in mine.events] == [
        ("CREATED", created["customer"]["id"])
    ]
    assert theirs.events == []


async def test_customer_filter_and_refusals(
    servers: list[LiveServer], app: Starlette, client: httpx.AsyncClient
) -> None:
    writer, reader = servers
    tenant = await make_tenant(app, client)
    a = (await mutate(writer.url, tenant.key, CREATE, {"input": {"displayName": "a"}}))["customer"]
    async with httpx.AsyncClient(timeout=5) as http:
        assert (await http.get(f"{reader.url}/events")).status_code == 401
        limited = await tenant.key_with(["read:billing"])
        forbidden = await http.get(
            f"{reader.url}/events", headers={"Authorization": f"Bearer {limited.key}"}
        )
        assert forbidden.status_code == 403
        assert forbidden.json()["errors"][0]["extensions"]["missingScopes"] == ["read:customers"]
        bad = await http.get(
            f"{reader.url}/events",
            params={"customerId": "nonsense"},
            headers={"Authorization": f"Bearer {tenant.key}"},
        )
        assert bad.status_code == 400
    async with listening(reader.url, tenant.key, last_event_id=0, customer_id=a["id"]) as only_a:
        b = (await mutate(writer.url, tenant.key, CREATE, {"input": {"displayName": "b"}}))[
            "customer"
        ]
        await mutate(writer.url, tenant.key, RENAME, {"id": a["id"], "name": "a2"})
        await mutate(writer.url, tenant.key, RENAME, {"id": b["id"], "name": "b2"})
        events = await only_a.wait_for(2)
        await asyncio.sleep(0.5)
    assert [(e.type, e.customer_id, e.version) for e in events] == [
        ("CREATED", a["id"], 1),
        ("UPDATED", a["id"], 2),
    ]
