"""Faults: the database going away, statement timeouts, pool exhaustion and clients that
hang up mid-mutation give quick 503s or a whole change or none, never a hang."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from conftest import LiveServer, TenantHandle, make_tenant, start_server, stop_server
from helpers import create_customer
from starlette.applications import Starlette

from app import create_app
from resolvers.auth import hash_key
from settings import Settings

# `plans` is not planned directly: the executor answers this one (its unit of work, the
# engine's pool), the direct lane (schema/direct, its own pool) the other.
VIEWER = {"query": "{ viewer { scopes } plans(first: 1) { totalCount } }"}
DIRECT = {"query": "{ viewer { scopes } customers(first: 1) { totalCount nodes { id } } }"}


class Proxy:
    """A TCP proxy on loopback that the test can cut (drop and refuse) and restore."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.open = True
        self.links: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.links |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()
        self.links.discard(writer)

    def cut(self) -> None:
        self.open = False
        for writer in list(self.links):
            writer.transport.abort()
        self.links.clear()

    def restore(self) -> None:
        self.open = True

    async def close(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()


@contextlib.asynccontextmanager
async def server_via_proxy(
    database_url: str, tmp: str, **env: str
) -> AsyncIterator[tuple[LiveServer, Proxy]]:
    parts = urlsplit(database_url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    port = await proxy.start()
    url = database_url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{port}")
    from pathlib import Path

    server = await asyncio.to_thread(start_server, url, Path(tmp) / "server.log", **env)
    try:
        yield server, proxy
    finally:
        await asyncio.to_thread(stop_server, server)
        await proxy.close()


# Network faults concern the PostgreSQL connection (SQLite is a file in the process).
POSTGRESQL_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@POSTGRESQL_ONLY
@pytest.mark.parametrize("query", [VIEWER, DIRECT], ids=["executor", "direct"])
async def test_database_down_is_503_within_2s_and_back_within_5s(
    database_url: str,
    app: Starlette,
    client: httpx.AsyncClient,
    tmp_path: object,
    query: dict[str, str],
) -> None:
    tenant = await make_tenant(app, client)
    auth = {"Authorization": f"Bearer {tenant.key}"}
    async with (
        server_via_proxy(database_url, str(tmp_path)) as (server, proxy),
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
    ):
        for _ in range(3):  # pooled connections, idle when the database goes
            assert (await http.post("/graphql", json=query, headers=auth)).status_code == 200
        proxy.cut()
        started = time.monotonic()
        down = await http.post("/graphql", json=query, headers=auth)
        assert time.monotonic() - started < 2
        assert down.status_code == 503 and down.headers["retry-after"] == "1"
        assert down.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert (await http.get("/readyz")).status_code == 503
        proxy.restore()
        restored = time.monotonic()
        while time.monotonic() - restored < 5:
            answer = await http.post("/graphql", json=query, headers=auth)
            if answer.status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert answer.status_code == 200, answer.text
        assert time.monotonic() - restored < 5
        assert "errors" not in answer.json()


@contextlib.asynccontextmanager
async def row_locked(database_url: str, customer_key: int) -> AsyncIterator[None]:
    """Another session holds the customer's row lock until the block ends."""
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    transaction = connection.transaction()
    await transaction.start()
    await connection.execute("SELECT 1 FROM customers WHERE id = $1 FOR UPDATE", customer_key)
    try:
        yield
    finally:
        await transaction.rollback()
        await connection.close()


def key_of(global_id: str) -> int:
    import base64

    return int(base64.urlsafe_b64decode(global_id + "==").decode().split(":")[1])


RENAME = """mutation($id: ID!) { setCustomerName(input: {id: $id, name: "blocked"}) {
  customer { displayName } userErrors { code } } }"""


@POSTGRESQL_ONLY
async def test_statement_timeout_and_pool_exhaustion_are_503_not_a_hang(
    database_url: str, app: Starlette, client: httpx.AsyncClient, tmp_path: object
) -> None:
    tenant = await make_tenant(app, client)
    customer = await create_customer(tenant.api, displayName="locked")
    auth = {"Authorization": f"Bearer {tenant.key}"}
    settings = {
        "DB_STATEMENT_TIMEOUT_MS": "800",
        "DB_POOL_SIZE": "1",
        "DB_POOL_TIMEOUT_SECONDS": "0.3",
    }
    body = {"query": RENAME, "variables": {"id": customer["id"]}}
    async with (
        server_via_proxy(database_url, str(tmp_path), **settings) as (server, _),
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
        row_locked(database_url, key_of(customer["id"])),
    ):
        started = time.monotonic()
        blocked = asyncio.create_task(http.post("/graphql", json=body, headers=auth))
        await asyncio.sleep(0.3)  # the rename now waits on the lock, holding the only connection
        starved = await http.post("/graphql", json=VIEWER, headers=auth)
        timed_out = await blocked
        elapsed = time.monotonic() - started
    assert starved.status_code == 503, starved.text
    assert timed_out.status_code == 503, timed_out.text
    assert timed_out.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert elapsed < 3
    after = await tenant.api.data(
        "query($id: ID!) { customer(id: $id) { displayName version } }", {"id": customer["id"]}
    )
    assert after["customer"] == {"displayName": "locked", "version": 1}, "nothing changed"


CREATE = """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) {
  customer { id } userErrors { code } } }"""
CHECK = """query($alias: String!, $handle: String!) {
  byAlias: customer(ingestAlias: $alias) { id handle }
  byHandle: customer(handle: $handle) { id ingestAliases }
}"""


async def test_client_hanging_up_mid_mutation_leaves_all_or_nothing(
    live_server: LiveServer, tenant: TenantHandle
) -> None:
    rng = random.Random(7)
    auth = {"Authorization": f"Bearer {tenant.key}"}
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        for n in range(20):
            variables = {
                "input": {"displayName": f"d{n}", "handle": f"h-{n}", "ingestAliases": [f"a-{n}"]}
            }
            request = http.post(
                "/graphql", json={"query": CREATE, "variables": variables}, headers=auth
            )
            with contextlib.suppress(TimeoutError, httpx.HTTPError):
                await asyncio.wait_for(request, rng.uniform(0.0005, 0.03))
    await asyncio.sleep(1)  # let the server finish whatever it started
    whole = 0
    for n in range(20):
        found = await tenant.api.data(CHECK, {"alias": f"a-{n}", "handle": f"h-{n}"})
        if found["byHandle"] is None:
            assert found["byAlias"] is None, f"alias without its customer {n}"
            continue
        whole += 1
        assert found["byHandle"]["ingestAliases"] == [f"a-{n}"], f"customer without alias {n}"
        assert found["byAlias"]["id"] == found["byHandle"]["id"]
    events = await tenant.api.data("{ customers(first: 100) { totalCount } }")
    assert events["customers"]["totalCount"] == whole


@POSTGRESQL_ONLY
async def test_direct_reads_waiting_beyond_the_pool_are_503(
    database_url: str, app: Starlette, client: httpx.AsyncClient
) -> None:
    """The direct lane's pool is DB_POOL_SIZE connections; a request that cannot have one
    within DB_POOL_TIMEOUT_SECONDS is answered 503 at once, as the executor's are."""
    tenant = await make_tenant(app, client)
    settings = Settings(
        database_url=database_url,
        secret_key="test-secret",
        rate_limit_per_minute=0,
        db_pool_size=1,
        db_pool_timeout_seconds=0.3,
    )
    small = create_app(settings)
    auth = {"Authorization": f"Bearer {tenant.key}"}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=small), base_url="http://test"
        ) as http:
            assert (await http.post("/graphql", json=DIRECT, headers=auth)).status_code == 200
            async with small.state.reads.session(hash_key(tenant.key)) as held:
                assert held is not None
                started = time.monotonic()
                starved = await http.post("/graphql", json=DIRECT, headers=auth)
                assert time.monotonic() - started < 1.5
            assert starved.status_code == 503 and starved.headers["retry-after"] == "1"
            assert starved.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            assert (await http.post("/graphql", json=DIRECT, headers=auth)).status_code == 200
    finally:
        await small.state.reads.close()
        await small.state.engine.dispose()
