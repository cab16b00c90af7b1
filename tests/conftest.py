"""Fixtures: a fresh database per backend (SQLite and PostgreSQL), the real app over HTTP.

Each test session migrates its own databases with random names and drops them after.
PostgreSQL is required: when it cannot be reached the run fails, unless the developer
sets CUSTOMERGRAPH_SKIP_POSTGRES=1 (CI never does; .ci/run also checks the services).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import event
from starlette.applications import Starlette

from app import create_app
from models import ApiKey, Tenant
from models.base import utcnow
from models.db import make_engine, make_sessionmaker
from resolvers.auth import ALL_SCOPES, hash_key, new_key
from settings import Settings
from telemetry import TRANSACTION_CONTROL

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = Path(__file__).resolve().parent / "operations"
POSTGRES_ADMIN_URL = os.environ.get(
    "CUSTOMERGRAPH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TEST_SECRET = "test-secret"


def operation(name: str) -> str:
    """A named document from tests/operations/, shared by tests and bench/."""
    return (OPERATIONS / f"{name}.graphql").read_text()


async def _postgres(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL.replace("+asyncpg", ""), timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _migrate(url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "cli", "migrate"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database of each backend, with a random name."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
        _migrate(url)
        yield url
        return
    name = f"cg_test_{secrets.token_hex(6)}"
    try:
        asyncio.run(_postgres(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as error:
        if os.environ.get("CUSTOMERGRAPH_SKIP_POSTGRES") == "1":
            pytest.skip(f"PostgreSQL unreachable and CUSTOMERGRAPH_SKIP_POSTGRES=1: {error}")
        pytest.fail(f"PostgreSQL is required at {POSTGRES_ADMIN_URL}: {error}")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://")
    try:
        _migrate(url)
        yield url
    finally:
        asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


@pytest.fixture(scope="session")
async def app(database_url: str) -> AsyncIterator[Starlette]:
    settings = Settings(database_url=database_url, secret_key=TEST_SECRET, rate_limit_per_minute=0)
    application = create_app(settings)
    # Fixtures write tenants and keys as the tables' owner, as the CLI does; the app itself
    # connects with the row-level-security role.
    owner = make_engine(database_url)
    application.state.owner_factory = make_sessionmaker(owner)
    yield application
    await application.state.reads.close()
    await application.state.engine.dispose()
    await owner.dispose()


@pytest.fixture(scope="session")
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@dataclass
class Api:
    """A GraphQL client bound to one API key."""

    http: httpx.AsyncClient
    key: str
    headers: dict[str, str] = field(default_factory=dict)

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> httpx.Response:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        sent = {"Authorization": f"Bearer {self.key}", **self.headers, **headers}
        return await self.http.post("/graphql", json=body, headers=sent)

    async def full(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON body of a 200 response, with its extensions (e.g. the query's cost)."""
        response = await self.post(query, variables)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON body of a 200 response (errors, if any, included), without the
        response extensions every answer carries (`extensions.cost`)."""
        body = await self.full(query, variables)
        body.pop("extensions", None)
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of a response that must have no errors."""
        body = await self.gql(query, variables)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


@dataclass
class TenantHandle:
    id: uuid.UUID
    name: str
    key: str
    api: Api
    app: Starlette

    async def key_with(self, scopes: list[str]) -> Api:
        key = await add_api_key(self.app, self.id, scopes)
        return Api(self.api.http, key)


async def add_api_key(
    app: Starlette, tenant_id: uuid.UUID, scopes: list[str], revoked: bool = False
) -> str:
    key, prefix = new_key()
    async with app.state.owner_factory(info={"system": True}) as session:
        session.add(
            ApiKey(
                tenant_id=tenant_id,
                prefix=prefix,
                key_hash=hash_key(key),
                scopes=scopes,
                created_at=utcnow(),
                revoked_at=utcnow() if revoked else None,
            )
        )
        await session.commit()
    return key


async def make_tenant(app: Starlette, http: httpx.AsyncClient) -> TenantHandle:
    """A new tenant with an all-scopes key: tests never share data by accident."""
    name = f"tenant-{secrets.token_hex(6)}"
    tenant_id = uuid.uuid4()
    async with app.state.owner_factory(info={"system": True}) as session:
        session.add(Tenant(id=tenant_id, name=name, created_at=utcnow()))
        await session.commit()
    key = await add_api_key(app, tenant_id, list(ALL_SCOPES))
    return TenantHandle(tenant_id, name, key, Api(http, key), app)


@pytest.fixture
async def tenant(app: Starlette, client: httpx.AsyncClient) -> TenantHandle:
    return await make_tenant(app, client)


@pytest.fixture
async def other_tenant(app: Starlette, client: httpx.AsyncClient) -> TenantHandle:
    return await make_tenant(app, client)


@contextmanager
def count_statements(app: Starlette) -> Iterator[list[str]]:
    """Every SQL statement the app sends inside the block, through its engine or its direct
    reads, counted as /metrics counts them (transaction control and the row-level-security
    tenant setting aside)."""
    statements: list[str] = []
    engine = app.state.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            statements.append(statement)

    def read(statement: str) -> None:  # a direct read's (models/reads.py)
        statements.append(statement)

    observers = app.state.reads.observers if app.state.reads is not None else []
    event.listen(engine, "before_cursor_execute", record)
    observers.append(read)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
        observers.remove(read)


def assert_statements(statements: list[str], expected: int) -> None:
    """Compare a statement count, printing the SQL when it differs (strawberry-django's way)."""
    listing = "\n".join(f"{i + 1}. {s}" for i, s in enumerate(statements))
    assert len(statements) == expected, (
        f"expected {expected} statements, got {len(statements)}:\n{listing}"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def start_server(database_url: str, log: Path, **extra_env: str) -> LiveServer:
    """`customergraph serve` in its own process on a free loopback port, once healthy.

    A port found free can be taken by another process before the server binds it, so a
    server that exits at start is tried again on another port."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "LOG_LEVEL": "warning",
        "RATE_LIMIT_PER_MINUTE": "0",
        **extra_env,
    }
    for _attempt in range(3):
        port = free_port()
        with log.open("ab") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "cli", "serve", "--port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return LiveServer(url, process, log)
            except httpx.TransportError:
                time.sleep(0.1)
        process.kill()
        process.wait()
    pytest.fail(f"server did not start:\n{log.read_text()}")


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def live_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """`customergraph serve` in its own process on a free loopback port."""
    server = start_server(database_url, tmp_path_factory.mktemp("server") / "server.log")
    yield server
    stop_server(server)
