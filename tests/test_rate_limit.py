"""Rate limits per API key: 429 with Retry-After and RATE_LIMITED, shared through Redis."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from conftest import TEST_SECRET, LiveServer, add_api_key, make_tenant, start_server, stop_server
from starlette.applications import Starlette

from app import create_app
from settings import Settings

REDIS_URL = os.environ.get("CUSTOMERGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
QUERY = {"query": "{ viewer { scopes } }"}


@pytest.fixture
async def limited(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app with RATE_LIMIT_PER_MINUTE=3 and no Redis: buckets in memory."""
    settings = Settings(database_url=database_url, secret_key=TEST_SECRET, rate_limit_per_minute=3)
    application = create_app(settings)
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
    await application.state.reads.close()
    await application.state.engine.dispose()


async def test_limit_per_key_answers_429_with_retry_after(
    limited: httpx.AsyncClient, app: Starlette, client: httpx.AsyncClient
) -> None:
    tenant = await make_tenant(app, client)
    other_key = await add_api_key(app, tenant.id, ["read:customers"])
    auth = {"Authorization": f"Bearer {tenant.key}"}
    answers = [await limited.post("/graphql", json=QUERY, headers=auth) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    refused = answers[3]
    assert refused.headers["retry-after"] == "20"  # one token every 60/3 seconds
    assert refused.json()["errors"][0]["extensions"] == {
        "code": "RATE_LIMITED",
        "limit": 3,
        "window": "minute",
    }
    other = await limited.post("/graphql", json=QUERY, headers={"X-Api-Key": other_key})
    assert other.status_code == 200, "each API key has its own bucket"


@pytest.fixture(scope="module")
def shared(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[LiveServer]]:
    """Two server processes sharing one Redis, 5 requests a minute per key."""
    folder = tmp_path_factory.mktemp("ratelimit")
    settings = {"RATE_LIMIT_PER_MINUTE": "5", "REDIS_URL": REDIS_URL}
    servers = [start_server(database_url, folder / f"s{n}.log", **settings) for n in range(2)]
    yield servers
    for server in servers:
        stop_server(server)


async def test_two_processes_sharing_redis_let_exactly_the_limit_through(
    shared: list[LiveServer], app: Starlette, client: httpx.AsyncClient
) -> None:
    tenant = await make_tenant(app, client)
    auth = {"Authorization": f"Bearer {tenant.key}"}
    async with httpx.AsyncClient(timeout=10) as http:
        calls = [
            http.post(f"{shared[n % 2].url}/graphql", json=QUERY, headers=auth) for n in range(20)
        ]
        answers = await asyncio.gather(*calls)
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(200) == 5 and statuses.count(429) == 15, statuses
    served_by = {
        str(answer.url).rsplit("/", 1)[0] for answer in answers if answer.status_code == 200
    }
    assert served_by, "the budget is one, whichever process answers"
