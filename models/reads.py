"""Connections for direct reads (schema/direct): statements straight on the database driver,
no SQLAlchemy execution machinery, no transaction, one round trip a statement.

Every checkout begins with the API-key lookup (`ReadPool.session`). On PostgreSQL that one
statement also sets the connection's `app.tenant_id` for row-level security, at session
level, to the key's tenant, or to '' when the key is unknown: whatever the connection did
before, every later statement of the checkout sees exactly that tenant's rows. These
connections serve direct reads and nothing else, and the lookup is the only way to check
one out. Reads need no transaction: under READ COMMITTED each statement takes its own
snapshot either way, and without BEGIN and COMMIT a read makes two round trips fewer.

PostgreSQL's connections are a pool of this module's own, the size of the engine's
(`DB_POOL_SIZE`; a process opens up to twice that many connections). Its checkout is a slot
of a `Gate` (arrival order, `DB_POOL_TIMEOUT_SECONDS`) and an idle connection: asyncpg's
pool resets each connection on release (a round trip), wraps each release in a task, and
keeps proxies and timers this one does without. A connection whose statement did not end
(an error, a cancelled request) is closed instead of kept. SQLite's reads use the
engine's own pooled connections, through aiosqlite.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from sqlalchemy import Dialect, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from models.compiled import CompiledRead, compile_read
from models.gate import Gate
from models.tenancy import GUARD_TENANT
from models.tenants import ApiKey, Tenant

Row = Sequence[Any]
Observer = Callable[[str], None]

# PostgreSQL: always one row; the tenant is set for an unknown key too (''), so no checkout
# keeps the tenant of an earlier one past its first statement.
POSTGRES_KEY = (
    "SELECT p.id, p.scopes, p.tenant_id, p.name,"
    " set_config('app.tenant_id', coalesce(p.tenant_id::text, ''), false)"
    " FROM (SELECT 1) AS one LEFT JOIN customergraph_principal($1) AS p ON true"
)
# SQLite has no row-level security: the live key's row and its tenant.
SQLITE_KEY = (
    select(ApiKey.id, ApiKey.scopes, Tenant.id.label("tenant_id"), Tenant.name)
    .join(Tenant, Tenant.id == ApiKey.tenant_id)
    .where(ApiKey.key_hash == bindparam("h"), ApiKey.revoked_at.is_(None))
)


@dataclass(frozen=True, slots=True)
class KeyRow:
    """A live API key: its id, scopes, tenant and the tenant's name."""

    id: int
    scopes: list[str]
    tenant_id: uuid.UUID
    tenant_name: str


def _key_row(row: Row) -> KeyRow | None:
    if row[0] is None:
        return None
    scopes = row[1] if isinstance(row[1], list) else orjson.loads(row[1])
    tenant = row[2] if isinstance(row[2], uuid.UUID) else uuid.UUID(str(row[2]))
    return KeyRow(int(row[0]), list(scopes), tenant, str(row[3]))


class Reader:
    """One checked-out connection and its key: statements one after another. `busy` is
    True while a statement has not ended (the connection is closed, not kept, if the
    checkout ends then)."""

    __slots__ = ("_fetch", "_observers", "busy", "key")

    def __init__(
        self,
        fetch: Callable[[str, list[Any]], Any],
        observers: list[Observer],
        key: KeyRow,
    ) -> None:
        self._fetch, self._observers, self.key = fetch, observers, key
        self.busy = False

    async def rows(
        self, read: CompiledRead, values: Mapping[str, Any] | None = None
    ) -> Sequence[Row]:
        """The rows of a compiled read, its guard's criterion bound to the key's tenant."""
        arguments = read.arguments({**(values or {}), GUARD_TENANT: self.key.tenant_id})
        for observe in self._observers:
            observe(read.sql)
        self.busy = True
        rows: Sequence[Row] = await self._fetch(read.sql, arguments)
        self.busy = False
        return read.rows(rows)


class ReadPool:
    """Connections for direct reads; `session(key_hash)` checks one out with its key."""

    dialect: Dialect

    def __init__(self) -> None:
        # Each is called with every statement's SQL: telemetry counts them, tests too.
        self.observers: list[Observer] = []

    def session(self, key_hash: str) -> Any:
        """An async context manager: a Reader for a live key, None for any other."""
        raise NotImplementedError

    async def close(self) -> None:
        """Close the idle connections; connections checked out close when given back."""

    def connections(self) -> dict[str, int]:
        """How many of the pool's own connections are in use and idle (none on SQLite,
        whose reads take the engine's)."""
        return {}

    def _observe(self, sql: str) -> None:
        for observe in self.observers:
            observe(sql)


# ----------------------------------------------------------------- PostgreSQL


async def _json_codecs(connection: Any) -> None:
    """JSON and JSONB decoded by orjson, as the engine's own connections do."""
    await connection.set_type_codec(
        "json", encoder=str.encode, decoder=orjson.loads, schema="pg_catalog", format="binary"
    )
    await connection.set_type_codec(
        "jsonb",
        encoder=lambda value: b"\x01" + str(value).encode(),
        decoder=lambda value: orjson.loads(value[1:]),
        schema="pg_catalog",
        format="binary",
    )


class _Pooled:
    """An open connection and its fetch in the (sql, arguments) form a Reader calls."""

    __slots__ = ("connection", "fetch")

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        run = connection.fetch

        def fetch(sql: str, arguments: list[Any]) -> Any:
            return run(sql, *arguments)

        self.fetch = fetch


class PostgresReads(ReadPool):
    """Up to `size` asyncpg connections, opened when needed, connected as the engine's."""

    def __init__(
        self,
        engine: AsyncEngine,
        size: int,
        checkout_timeout: float,
        connect_options: dict[str, Any],
    ) -> None:
        super().__init__()
        self.dialect = engine.dialect
        _, options = engine.dialect.create_connect_args(engine.url)
        self._options = {**options, **connect_options}
        self._gate = Gate(size, checkout_timeout)
        self._idle: list[_Pooled] = []
        self._opened = 0
        self._closed = False

    def session(self, key_hash: str) -> _Checkout:
        return _Checkout(self, key_hash)

    async def _take(self) -> _Pooled:
        await self._gate.enter()
        try:
            idle = self._idle
            while idle:
                pooled = idle.pop()
                if not pooled.connection.is_closed():
                    return pooled
                self._drop(pooled.connection)
            connection = await asyncpg.connect(**self._options)
            self._opened += 1
            try:
                await _json_codecs(connection)
            except BaseException:
                self._drop(connection)
                raise
            return _Pooled(connection)
        except BaseException:
            self._gate.leave()
            raise

    def _give(self, pooled: _Pooled, reusable: bool) -> None:
        try:
            if reusable and not self._closed and not pooled.connection.is_closed():
                self._idle.append(pooled)
            else:
                self._drop(pooled.connection)
        finally:
            self._gate.leave()

    def _drop(self, connection: Any) -> None:
        self._opened -= 1
        connection.terminate()

    def connections(self) -> dict[str, int]:
        idle = len(self._idle)
        return {"in_use": self._opened - idle, "idle": idle}

    def purge(self) -> None:
        """Close every idle connection (after one was lost: the others likely are too)."""
        idle, self._idle = self._idle, []
        for pooled in idle:
            self._drop(pooled.connection)

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for pooled in idle:
            self._opened -= 1
            await pooled.connection.close(timeout=2)


class _Checkout:
    """`async with reads.session(key_hash) as reader`: a connection taken in turn, its
    first statement the key lookup that sets its tenant."""

    __slots__ = ("key_hash", "owner", "pooled", "reader")

    def __init__(self, owner: PostgresReads, key_hash: str) -> None:
        self.owner, self.key_hash = owner, key_hash
        self.pooled: _Pooled | None = None
        self.reader: Reader | None = None

    async def __aenter__(self) -> Reader | None:
        owner = self.owner
        pooled = self.pooled = await owner._take()
        owner._observe(POSTGRES_KEY)
        try:
            found = await pooled.connection.fetch(POSTGRES_KEY, self.key_hash)
        except BaseException as error:
            self._end(False, error)
            raise
        key = _key_row(found[0])
        if key is None:
            self._end(True, None)
            return None
        self.reader = Reader(pooled.fetch, owner.observers, key)
        return self.reader

    async def __aexit__(self, _type: object, error: BaseException | None, _tb: object) -> None:
        if self.pooled is not None:
            reader = self.reader
            self._end(reader is not None and not reader.busy, error)

    def _end(self, reusable: bool, error: BaseException | None) -> None:
        pooled, self.pooled = self.pooled, None
        assert pooled is not None
        if isinstance(error, OSError | asyncpg.PostgresConnectionError | asyncpg.InterfaceError):
            self.owner.purge()
        self.owner._give(pooled, reusable)


# ----------------------------------------------------------------- SQLite


class SqliteReads(ReadPool):
    """The engine's own pooled connections, used through aiosqlite directly."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__()
        self.dialect = engine.dialect
        self._engine = engine
        self._key = compile_read(SQLITE_KEY, engine.dialect, guarded=False)

    def session(self, key_hash: str) -> _SqliteCheckout:
        return _SqliteCheckout(self, key_hash)


class _SqliteCheckout:
    __slots__ = ("connection", "key_hash", "owner")

    def __init__(self, owner: SqliteReads, key_hash: str) -> None:
        self.owner, self.key_hash = owner, key_hash
        self.connection: AsyncConnection | None = None

    async def __aenter__(self) -> Reader | None:
        owner = self.owner
        connection = self.connection = await owner._engine.connect()
        try:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection

            async def fetch(sql: str, arguments: list[Any]) -> Sequence[Row]:
                rows: Sequence[Row] = await driver.execute_fetchall(sql, arguments)
                return rows

            read = owner._key
            owner._observe(read.sql)
            found = read.rows(await fetch(read.sql, read.arguments({"h": self.key_hash})))
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        key = _key_row(found[0]) if found else None
        return None if key is None else Reader(fetch, owner.observers, key)

    async def __aexit__(self, *_: object) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            await connection.close()


def make_reads(
    engine: AsyncEngine,
    *,
    pool_size: int,
    pool_timeout: float,
    connect_options: dict[str, Any] | None = None,
) -> ReadPool:
    if engine.dialect.name == "sqlite":
        return SqliteReads(engine)
    return PostgresReads(engine, pool_size, pool_timeout, connect_options or {})
