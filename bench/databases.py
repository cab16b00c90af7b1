"""Fresh databases for one run: a SQLite file, or a PostgreSQL database with a random name."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.common import ROOT, venv_tool

BACKENDS = ("sqlite", "postgresql")
# Trust authentication on loopback; the run creates and drops its own database there.
POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@dataclass(frozen=True, slots=True)
class Database:
    backend: str
    url: str  # the SQLAlchemy URL, async driver named
    name: str  # the SQLite file or the PostgreSQL database


async def _postgres(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def create_database(backend: str, directory: Path) -> Database:
    """An empty database, never a shared name: a new file, or `cg_bench_<random>`."""
    if backend == "sqlite":
        path = directory / f"cg_bench_{secrets.token_hex(6)}.db"
        return Database(backend, f"sqlite+aiosqlite:///{path}", str(path))
    if backend != "postgresql":
        raise ValueError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    name = f"cg_bench_{secrets.token_hex(6)}"
    asyncio.run(_postgres(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return Database(backend, f"{base}/{name}", name)


def drop_database(database: Database) -> None:
    if database.backend == "postgresql":
        asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)'))
        return
    for suffix in ("", "-wal", "-shm"):
        Path(database.name + suffix).unlink(missing_ok=True)


def migrate(url: str) -> None:
    """`customergraph migrate` on `url` (Alembic's env runs its own event loop)."""
    subprocess.run(  # noqa: S603 - our own console script
        [venv_tool("customergraph"), "migrate"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
    )
