"""The floor: the benchmark's three answers from a bare Starlette app, with no GraphQL.

    DATABASE_URL=... SECRET_KEY=... uvicorn bench.floor:app

It answers POST /graphql bodies whose `query` is one of tests/operations/Bench*.graphql with the
same JSON CustomerGraph answers (ids, cursors and all), from hand-written SQL: asyncpg
directly on PostgreSQL, aiosqlite on SQLite, encoded with orjson. Each request looks its API
key up by SHA-256 hash, then reads on the same pooled connection, one statement after
another: q1 and q3 are 2 statements, q2 is 4. Nothing is cached between requests.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

import aiosqlite
import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.common import QUERIES, SECRET, operation
from domain.cursors import encode_cursor
from domain.errors import BadUserInput
from domain.ids import decode_int_id, encode_global_id

PAGE = 50
CHILDREN = 10
POOL_SIZE = 10  # CustomerGraph's default DB_POOL_SIZE (its SQLite pool keeps 5)
SQLITE_POOL_SIZE = 5
CUSTOMER_ORDER = "customers:CREATED_AT:DESC"  # the cursor tag of CustomerGraph's default order
SECRET_BYTES = os.environ.get("SECRET_KEY", SECRET).encode()

PRINCIPAL = """SELECT k.tenant_id, k.scopes FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
WHERE k.key_hash = {0} AND k.revoked_at IS NULL"""
CUSTOMERS = """SELECT id, display_name, email, created_at FROM customers
WHERE tenant_id = {0} AND archived_at IS NULL ORDER BY created_at DESC, id DESC LIMIT {1}"""
CUSTOMER = """SELECT id, display_name, email, company_name, country_code, currency, created_at,
updated_at, version, archived_at FROM customers WHERE tenant_id = {0} AND id = {1}"""
# Newest first, `limit` rows per customer: one statement for a whole page of customers.
CHILDREN_SQL = """SELECT * FROM (SELECT customer_id, {columns}, row_number() OVER (
PARTITION BY customer_id ORDER BY {order} DESC, id DESC) AS rn FROM {table}
WHERE tenant_id = {tenant} AND customer_id {parents}) AS ranked WHERE rn <= {limit}
ORDER BY customer_id, rn"""
SUBSCRIPTIONS = {
    "table": "subscriptions",
    "columns": "id, status, started_at",
    "order": "started_at",
}
INSTANCES = {"table": "instances", "columns": "id, name, status, region", "order": "created_at"}

Rows = Sequence[Sequence[Any]]
Fetch = Callable[..., Awaitable[Rows]]  # fetch(sql, *args)


class Backend(Protocol):
    """One database: its statements and a pooled connection per request."""

    principal: str
    customers: str
    customer: str

    def connection(self) -> AbstractAsyncContextManager[Fetch]: ...

    def children(self, spec: dict[str, str], parents: list[int]) -> tuple[str, list[Any]]: ...

    async def close(self) -> None: ...


class Postgres:
    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.principal = PRINCIPAL.format("$1")
        self.customers = CUSTOMERS.format("$1", "$2")
        self.customer = CUSTOMER.format("$1", "$2")

    @classmethod
    async def open(cls, dsn: str) -> Postgres:
        async def keep(_connection: Any) -> None:
            """No reset query on release (one more round trip per checkout): the floor's
            reads run outside transactions and change no session state."""

        pool = await asyncpg.create_pool(
            dsn, min_size=POOL_SIZE, max_size=POOL_SIZE, reset=keep, timeout=5
        )
        return cls(pool)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Fetch]:
        async with self.pool.acquire() as connection:
            yield connection.fetch

    def children(self, spec: dict[str, str], parents: list[int]) -> tuple[str, list[Any]]:
        sql = _children_sql(**spec, tenant="$1", parents="= ANY($2::bigint[])", limit="$3")
        return sql, [parents]

    async def close(self) -> None:
        await self.pool.close()


@lru_cache(maxsize=256)
def _children_sql(**parts: str) -> str:
    return CHILDREN_SQL.format(**parts)


class Sqlite:
    def __init__(self, connections: list[aiosqlite.Connection]) -> None:
        self.idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for connection in connections:
            self.idle.put_nowait(connection)
        self.all = connections
        self.principal = PRINCIPAL.format("?")
        self.customers = CUSTOMERS.format("?", "?")
        self.customer = CUSTOMER.format("?", "?")

    @classmethod
    async def open(cls, path: str) -> Sqlite:
        connections = []
        for _ in range(SQLITE_POOL_SIZE):
            connection = await aiosqlite.connect(path, isolation_level=None)  # autocommit
            await connection.execute("PRAGMA busy_timeout=30000")
            connections.append(connection)
        return cls(connections)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Fetch]:
        connection = await self.idle.get()

        async def fetch(sql: str, *args: Any) -> Rows:
            return list(await connection.execute_fetchall(sql, args))

        try:
            yield fetch
        finally:
            self.idle.put_nowait(connection)

    def children(self, spec: dict[str, str], parents: list[int]) -> tuple[str, list[Any]]:
        marks = ", ".join("?" * len(parents))
        sql = _children_sql(**spec, tenant="?", parents=f"IN ({marks})", limit="?")
        return sql, list(parents)

    async def close(self) -> None:
        for connection in self.all:
            await connection.close()


async def open_backend(url: str) -> Backend:
    """`DATABASE_URL` as CustomerGraph takes it (driver names allowed)."""
    if url.startswith("sqlite"):
        return await Sqlite.open(url.split(":///", 1)[1])
    dsn = url.replace("+asyncpg", "").replace("postgres://", "postgresql://", 1)
    return await Postgres.open(dsn)


# ---------------------------------------------------------------- the three answers


def utc(value: datetime | str) -> datetime:
    """A timestamp column as aware UTC (SQLite holds naive UTC text)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.astimezone(UTC)


def rfc3339(value: datetime | str) -> str:
    return utc(value).isoformat().replace("+00:00", "Z")


async def _page(fetch: Fetch, backend: Backend, tenant: Any) -> tuple[Rows, dict[str, Any]]:
    rows = await fetch(backend.customers, tenant, PAGE + 1)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    cursor = None
    if rows:
        last = rows[-1]
        cursor = encode_cursor(SECRET_BYTES, CUSTOMER_ORDER, [utc(last[3]).isoformat(), last[0]])
    return rows, {"hasNextPage": more, "endCursor": cursor}


def _node(row: Sequence[Any]) -> dict[str, Any]:
    return {"id": encode_global_id("Customer", row[0]), "displayName": row[1], "email": row[2]}


async def q1(fetch: Fetch, backend: Backend, tenant: Any, _: dict[str, Any]) -> object:
    rows, page_info = await _page(fetch, backend, tenant)
    return {"customers": {"nodes": [_node(row) for row in rows], "pageInfo": page_info}}


async def _children(
    fetch: Fetch, backend: Backend, tenant: Any, spec: dict[str, str], parents: list[int]
) -> dict[int, list[Sequence[Any]]]:
    sql, parent_args = backend.children(spec, parents)
    found: dict[int, list[Sequence[Any]]] = {parent: [] for parent in parents}
    for row in await fetch(sql, tenant, *parent_args, CHILDREN):
        found[row[0]].append(row)
    return found


def _subscription(row: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": encode_global_id("Subscription", row[1]),
        "status": row[2],
        "startedAt": rfc3339(row[3]),
    }


def _instance(row: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": encode_global_id("Instance", row[1]),
        "name": row[2],
        "status": row[3],
        "region": row[4],
    }


async def q2(fetch: Fetch, backend: Backend, tenant: Any, _: dict[str, Any]) -> object:
    rows, page_info = await _page(fetch, backend, tenant)
    parents = [row[0] for row in rows]
    subscriptions = await _children(fetch, backend, tenant, SUBSCRIPTIONS, parents)
    instances = await _children(fetch, backend, tenant, INSTANCES, parents)
    nodes = []
    for row in rows:
        node = _node(row)
        node["subscriptions"] = {"nodes": [_subscription(s) for s in subscriptions[row[0]]]}
        node["instances"] = {"nodes": [_instance(i) for i in instances[row[0]]]}
        nodes.append(node)
    return {"customers": {"nodes": nodes, "pageInfo": page_info}}


async def q3(fetch: Fetch, backend: Backend, tenant: Any, variables: dict[str, Any]) -> object:
    pk = decode_int_id(str(variables["id"]), "Customer")
    rows = await fetch(backend.customer, tenant, pk) if pk is not None else []
    if not rows:
        return {"customer": None}
    row = rows[0]
    return {
        "customer": {
            "id": encode_global_id("Customer", row[0]),
            "displayName": row[1],
            "email": row[2],
            "companyName": row[3],
            "countryCode": row[4],
            "currency": row[5],
            "createdAt": rfc3339(row[6]),
            "updatedAt": rfc3339(row[7]),
            "version": row[8],
            "isArchived": row[9] is not None,
        }
    }


Answer = Callable[[Fetch, Backend, Any, dict[str, Any]], Awaitable[object]]
ANSWERS: dict[str, Answer] = dict(zip((operation(q) for q in QUERIES), (q1, q2, q3), strict=True))


# ---------------------------------------------------------------- HTTP


def _error(status: int, code: str, message: str) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(orjson.dumps(body), status, media_type="application/json")


def _api_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def graphql(request: Request) -> Response:
    try:
        payload = orjson.loads(await request.body())
        answer = ANSWERS[payload["query"]]
        variables = payload.get("variables") or {}
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return _error(
            400, "BAD_REQUEST", "The floor answers the tests/operations/Bench* documents only"
        )
    key = _api_key(request)
    if not key:
        return _error(401, "UNAUTHENTICATED", "Invalid API key")
    backend: Backend = request.app.state.backend
    async with backend.connection() as fetch:
        found = await fetch(backend.principal, hashlib.sha256(key.encode()).hexdigest())
        if not found:
            return _error(401, "UNAUTHENTICATED", "Invalid API key")
        tenant, scopes = found[0]
        if "read:customers" not in orjson.loads(scopes):
            return _error(403, "FORBIDDEN", "Missing scope read:customers")
        try:
            data = await answer(fetch, backend, tenant, variables)
        except BadUserInput as error:
            return _error(400, "BAD_USER_INPUT", str(error))
    return Response(orjson.dumps({"data": data}), media_type="application/json")


async def healthz(_: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


@asynccontextmanager
async def lifespan(application: Starlette) -> AsyncIterator[None]:
    backend = await open_backend(os.environ["DATABASE_URL"])
    application.state.backend = backend
    try:
        yield
    finally:
        await backend.close()


app = Starlette(
    routes=[Route("/graphql", graphql, methods=["POST"]), Route("/healthz", healthz)],
    lifespan=lifespan,
)
