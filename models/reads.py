"""Reads straight through the database driver, for queries answered from direct plans
(schema/direct): no SQLAlchemy execution machinery, no transaction, one round trip a statement.

A statement is still built with SQLAlchemy Core, carrying the tenancy guard's criterion
(`scoped`), and compiled once for the pool's dialect (`compile_read`): its SQL text, the
driver's positional arguments and the result processors SQLAlchemy would apply. Running it
is then the driver's `fetch` and nothing else.

Every checkout begins with the API-key lookup (`ReadPool.session`). On PostgreSQL that one
statement also sets the connection's `app.tenant_id` for row-level security, at session
level, to the key's tenant, or to '' when the key is unknown: whatever the connection did
before, every later statement of the checkout sees exactly that tenant's rows. These
connections serve direct reads and nothing else, and the lookup is the only way to check one
out. Reads need no transaction: under READ COMMITTED each statement takes its own snapshot
either way, and without BEGIN and COMMIT a read makes two round trips fewer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from sqlalchemy import Dialect, Executable, bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.tenancy import GUARD_TENANT, scoped
from models.tenants import ApiKey, Tenant

Row = Sequence[Any]
Observer = Callable[[str], None]
Fetch = Callable[[str, list[Any]], Awaitable[Sequence[Row]]]
COMPILED_READS_KEPT = 2048

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


Slot = tuple[str | None, Any, Callable[[Any], Any] | None]


@dataclass(frozen=True, slots=True)
class CompiledRead:
    """One statement compiled for one dialect."""

    sql: str
    # Per positional argument: (name of a value given at execution, None, its bind
    # processor), or (None, the processed constant the statement carries, None).
    slots: tuple[Slot, ...]
    columns: tuple[str, ...]
    # Result processors per column; None when the driver's values are final (asyncpg).
    processors: tuple[Callable[[Any], Any] | None, ...] | None

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        found = []
        for name, constant, process in self.slots:
            if name is None:
                found.append(constant)
                continue
            value = values[name]
            found.append(value if process is None or value is None else process(value))
        return found

    def rows(self, raw: Sequence[Row]) -> Sequence[Row]:
        processors = self.processors
        if processors is None:
            return raw
        return [
            tuple(
                v if p is None or v is None else p(v) for p, v in zip(processors, row, strict=True)
            )
            for row in raw
        ]


_compiled: dict[tuple[int, str, bool], tuple[Executable, CompiledRead]] = {}


def compile_read(statement: Executable, dialect: Dialect, guarded: bool = True) -> CompiledRead:
    """`statement`, with the tenancy guard's criterion unless `guarded` is False, compiled
    for `dialect` once per statement object (callers keep the statements they reuse).

    Binds without a value are given at each execution; those with one (a LIMIT, the items
    of a literal IN list) are constants of the compiled statement."""
    key = (id(statement), dialect.name, guarded)
    known = _compiled.get(key)
    if known is not None and known[0] is statement:
        return known[1]
    target: Any = scoped(statement) if guarded else statement
    compiled = target.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    slots: list[Slot] = []
    for name in compiled.positiontup or ():
        bind = compiled.binds[name]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if bind.value is None or bind.callable is not None or name == GUARD_TENANT:
            slots.append((name, None, process))
        else:
            slots.append((None, process(bind.value) if process else bind.value, None))
    # SQLAlchemy's own record of the result: (name, key, objects, type) per column.
    columns = compiled._result_columns
    processors = tuple(
        column[3].dialect_impl(dialect).result_processor(dialect, None) for column in columns
    )
    read = CompiledRead(
        sql=str(compiled),
        slots=tuple(slots),
        columns=tuple(column[0] for column in columns),
        processors=processors if any(p is not None for p in processors) else None,
    )
    if len(_compiled) >= COMPILED_READS_KEPT:
        _compiled.clear()
    _compiled[key] = (statement, read)
    return read


class Reader:
    """One checked-out connection: its key's tenant, statements one after another."""

    __slots__ = ("_fetch", "_observers", "key")

    def __init__(self, fetch: Fetch, observers: list[Observer], key: KeyRow) -> None:
        self._fetch, self._observers, self.key = fetch, observers, key

    async def rows(
        self, read: CompiledRead, values: Mapping[str, Any] | None = None
    ) -> Sequence[Row]:
        """The rows of a compiled read, its guard's criterion bound to the key's tenant."""
        arguments = read.arguments({**(values or {}), GUARD_TENANT: self.key.tenant_id})
        for observe in self._observers:
            observe(read.sql)
        return read.rows(await self._fetch(read.sql, arguments))


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
        """Close every idle connection (the pool opens new ones if used again)."""

    def _observe(self, sql: str) -> None:
        for observe in self.observers:
            observe(sql)


def _key_row(row: Row) -> KeyRow | None:
    if row[0] is None:
        return None
    scopes = row[1] if isinstance(row[1], list) else orjson.loads(row[1])
    tenant = row[2] if isinstance(row[2], uuid.UUID) else uuid.UUID(str(row[2]))
    return KeyRow(int(row[0]), list(scopes), tenant, str(row[3]))


async def _no_reset(_connection: Any) -> None:
    """Nothing to reset on release (asyncpg's reset is one more round trip): direct reads
    change no session state but the tenant, which the next checkout sets first."""


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


class PostgresReads(ReadPool):
    """asyncpg's own pool, opened on first use in the serving loop, connected as the engine."""

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
        self._size, self._checkout_timeout = size, checkout_timeout
        self._pool: Any = None
        self._opening: asyncio.Lock | None = None

    async def _ready(self) -> Any:
        if self._pool is not None:
            return self._pool
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    min_size=0,
                    max_size=self._size,
                    reset=_no_reset,
                    init=_json_codecs,
                    **self._options,
                )
        return self._pool

    @asynccontextmanager
    async def session(self, key_hash: str) -> AsyncIterator[Reader | None]:
        pool = await self._ready()
        async with pool.acquire(timeout=self._checkout_timeout) as connection:
            self._observe(POSTGRES_KEY)
            key = _key_row((await connection.fetch(POSTGRES_KEY, key_hash))[0])
            yield None if key is None else Reader(self._fetch(connection), self.observers, key)

    @staticmethod
    def _fetch(connection: Any) -> Fetch:
        async def fetch(sql: str, arguments: list[Any]) -> Sequence[Row]:
            rows: Sequence[Row] = await connection.fetch(sql, *arguments)
            return rows

        return fetch

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


class SqliteReads(ReadPool):
    """The engine's own pooled connections, used through aiosqlite directly."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__()
        self.dialect = engine.dialect
        self._engine = engine
        self._key = compile_read(SQLITE_KEY, engine.dialect, guarded=False)

    @asynccontextmanager
    async def session(self, key_hash: str) -> AsyncIterator[Reader | None]:
        async with self._engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection

            async def fetch(sql: str, arguments: list[Any]) -> Sequence[Row]:
                rows: Sequence[Row] = await driver.execute_fetchall(sql, arguments)
                return rows

            self._observe(self._key.sql)
            found = self._key.rows(await fetch(self._key.sql, self._key.arguments({"h": key_hash})))
            key = _key_row(found[0]) if found else None
            yield None if key is None else Reader(fetch, self.observers, key)


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
