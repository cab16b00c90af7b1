"""SQL statements per request: CustomerGraph in-process, its engine's cursor executions and
its direct reads' statements (models/reads.py) counted.

BEGIN, COMMIT and ROLLBACK are left out (SQLite sends them as statements, asyncpg does not);
the API key lookup is counted. Each query is sent once to warm the pool (a new connection's
set-up queries are not the request's), then once counted.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import event

from app import create_app
from bench.common import SECRET
from settings import Settings

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")


async def count_statements(database_url: str, key: str, bodies: dict[str, bytes]) -> dict[str, int]:
    """{query: statements one request of it sends}."""
    app = create_app(
        Settings(
            database_url=database_url,
            secret_key=SECRET,
            rate_limit_per_minute=0,
            log_level="warning",
        )
    )
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            statements.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    if app.state.reads is not None:
        app.state.reads.observers.append(statements.append)
    counts: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for name, body in bodies.items():
                for _warm_then_count in range(2):
                    statements.clear()
                    response = await client.post("/graphql", content=body, headers=headers)
                    if response.status_code != 200 or "errors" in response.json():
                        raise RuntimeError(f"{name}: {response.status_code} {response.text}")
                counts[name] = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", record)
        if app.state.reads is not None:
            await app.state.reads.close()
        await app.state.engine.dispose()
    return counts
