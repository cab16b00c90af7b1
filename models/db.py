"""Engine and session setup, and the per-request unit of work.

One request, one unit of work: one AsyncSession, statements serialised behind an
`asyncio.Lock` (Strawberry resolves sibling fields concurrently and two statements on one
AsyncSession at once is an error). Reads share one transaction; each mutation runs in
`UnitOfWork.write()`, its own transaction, committed before its payload is answered.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import namedtuple
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import Connection, Result
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql import Executable
from sqlalchemy.util.concurrency import await_

from models.customers import UNIQUE_INDEX_FIELDS
from models.gate import Gate
from models.sqlite_functions import AGGREGATES, FUNCTIONS
from models.tenancy import GUARD_TENANT, TenantSession, scoped

CONNECT_TIMEOUT_SECONDS = 1.5
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError, PoolTimeout, OSError, TimeoutError)
# PostgreSQL SQLSTATEs of a database that can not serve now: statement timeout (57014),
# shutting down (57P01-03), lock wait timeout (55P03); classes 08 (connection) and 53
# (insufficient resources) are matched by prefix.
UNAVAILABLE_STATES = frozenset({"57014", "57P01", "57P02", "57P03", "55P03"})
_INDEX_NAME = re.compile("|".join(re.escape(name) for name in UNIQUE_INDEX_FIELDS))


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    statement_timeout_ms: int = 0,
    role: str | None = None,
    pool_timeout: float = 2.0,
) -> AsyncEngine:
    """An engine for SQLite (WAL, busy timeout, real SAVEPOINTs) or PostgreSQL (asyncpg).

    On PostgreSQL `role` is the role every connection takes at start (the server's
    `customergraph_app`, subject to row-level security); None keeps the login role (the
    owner, for migrations and the CLI)."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=pool_timeout,
        connect_args=postgres_connect_args(statement_timeout_ms, role),
        json_deserializer=orjson.loads,  # JSON columns read with orjson: the same values, faster
    )


def postgres_connect_args(statement_timeout_ms: int, role: str | None) -> dict[str, Any]:
    """asyncpg's connect arguments for the server's connections (the engine's and the
    direct reads' pool): its name, statement timeout, role and connect timeout."""
    server_settings = {"application_name": "customergraph"}
    if statement_timeout_ms:
        server_settings["statement_timeout"] = str(statement_timeout_ms)
    if role:
        server_settings["role"] = role
    return {"server_settings": server_settings, "timeout": CONNECT_TIMEOUT_SECONDS}


def _register_aggregates(dbapi_connection: Any) -> None:
    """Exact decimal aggregates (models/sqlite_functions.py). aiosqlite exposes no
    create_aggregate, so it runs on aiosqlite's own thread like its create_function."""
    connection = dbapi_connection._connection
    for name, arity, aggregate in AGGREGATES:
        await_(connection._execute(connection._conn.create_aggregate, name, arity, aggregate))


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _sqlite_engine(url: str) -> AsyncEngine:
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30}, json_deserializer=orjson.loads)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, emit BEGIN (see the "begin" hook below).
        dbapi_connection.isolation_level = None
        # SQLite's lower() folds ASCII only; PostgreSQL's folds all of Unicode. Case-blind
        # search, filters and the lower(...) unique indexes must agree on both.
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
        for name, arity, function in FUNCTIONS:
            dbapi_connection.create_function(name, arity, function, deterministic=True)
        _register_aggregates(dbapi_connection)
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "busy_timeout=30000", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front: a deferred transaction that upgrades to a
        # writer can fail at once with SQLITE_BUSY instead of waiting its turn.
        conn.exec_driver_sql("BEGIN " + conn.get_execution_options().get("sqlite_begin", ""))

    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(
        engine, sync_session_class=TenantSession, expire_on_commit=False, autoflush=False
    )


def is_unavailable(error: BaseException) -> bool:
    """The database can not serve now: unreachable, connection lost, statement timeout,
    pool exhausted. Such a request is answered 503, never left hanging."""
    if isinstance(error, IntegrityError):
        return False
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        state = str(getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", ""))
        if state in UNAVAILABLE_STATES or state[:2] in ("08", "53"):
            return True
    return isinstance(error, UNAVAILABLE_ERRORS)


def unique_violation_field(error: IntegrityError) -> str | None:
    """The input field a violated unique index guards, found by the index's name."""
    match = _INDEX_NAME.search(str(error.orig))
    return UNIQUE_INDEX_FIELDS[match.group(0)] if match else None


@cache
def _row_type(columns: tuple[str, ...]) -> type[tuple[Any, ...]]:
    return namedtuple("Row", columns, rename=True)


class RequestFinished(RuntimeError):
    """A statement arrived after its request's unit of work was closed."""


class UnitOfWork:
    """One session for one request, tenant-scoped, with serialised statements."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant_id: uuid.UUID | None,
        gate: Gate | None = None,
    ) -> None:
        self._factory = factory
        self._session: AsyncSession | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._gate = gate
        self._inside = False  # holds one of the gate's slots
        self.tenant_id = tenant_id

    async def _enter(self) -> None:
        """Before the session checks a connection out: a slot of the gate, if any."""
        if self._closed:
            raise RequestFinished
        if self._gate is not None and not self._inside:
            await self._gate.enter()
            self._inside = True

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`: where SQL must differ (JSON operators, upserts)."""
        bind = self.session.bind
        return bind.dialect.name if bind is not None else ""

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self._factory(info={"tenant_id": self.tenant_id})
        return self._session

    async def connection(self) -> AsyncConnection:
        """The request transaction's connection, for Core statements outside the ORM."""
        async with self._lock:
            await self._enter()
            return await self.session.connection()

    def set_tenant(self, tenant_id: uuid.UUID) -> None:
        """The tenant the guard and every later transaction use (the caller has set it for
        the current PostgreSQL transaction, see `resolvers.auth.principal_on`)."""
        self.tenant_id = tenant_id
        if self._session is not None:
            self._session.info["tenant_id"] = tenant_id

    async def rows(
        self, statement: Executable, parameters: dict[str, Any] | None = None
    ) -> list[Any]:
        """The rows of a read (columns, not entities) as plain named tuples: an attribute
        read costs a tenth of a SQLAlchemy Row's (whose `__getattr__` is Python), and read
        paths read many. The read runs on the transaction's connection, without the ORM
        session's per-statement work, carrying the guard's criterion (`scoped`)."""
        async with self._lock:
            await self._enter()
            if self.tenant_id is None:  # the session's guard decides (system work, or no)
                result: Result[Any] = await self.session.execute(statement, parameters)
            else:
                connection = await self.session.connection()
                bound = {**(parameters or {}), GUARD_TENANT: self.tenant_id}
                result = await connection.execute(scoped(statement), bound)
        shape = _row_type(tuple(result.keys()))
        new = tuple.__new__
        return [new(shape, row) for row in result]

    async def execute(
        self, statement: Executable, parameters: dict[str, Any] | None = None
    ) -> Result[Any]:
        async with self._lock:
            await self._enter()
            return await self.session.execute(statement, parameters)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A transaction of its own for one mutation: committed on success, else rolled back.

        The lock is held throughout, so use the yielded session directly inside.
        """
        async with self._lock:
            await self._enter()
            session = self.session
            if session.in_transaction():
                await session.rollback()
            if session.bind is not None and session.bind.dialect.name == "sqlite":
                await session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def release(self) -> None:
        """End the current transaction and give its connection back to the pool; the next
        statement starts a new session (for work that waits on other connections)."""
        await asyncio.shield(self._release())

    async def close(self) -> None:
        """End the request's session once no statement is running. A loader batch still
        scheduled (its field's answer already given up, e.g. after a sibling error nulled
        the parent) finds the unit of work closed instead of reopening a session.

        Both run to the end even when the request is cancelled meanwhile (shielded): one
        that stopped while it waited for a running statement would keep its connection
        and its slot of the gate for good."""
        await asyncio.shield(self._close())

    async def _release(self) -> None:
        async with self._lock:
            await self._end_session()

    async def _close(self) -> None:
        async with self._lock:
            self._closed = True
            await self._end_session()

    async def _end_session(self) -> None:
        try:
            if self._session is not None:
                await self._session.close()
                self._session = None
        finally:
            if self._inside:
                assert self._gate is not None
                self._inside = False
                self._gate.leave()
