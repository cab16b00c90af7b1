"""bench.usage in a tiny configuration, so that the benchmark can not rot unseen.

PostgreSQL only (the benchmark's own fresh database, as `python -m bench.usage` makes it):
the server starts, the plan is made through the API, events are loaded by COPY, `costs`
agrees with the hand-written SQL, and every side of the ingestion stores every event it is
given. No timing is asserted.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from bench.databases import POSTGRES_ADMIN_URL
from bench.usage import Options, run
from bench.usage_costs import Costs
from bench.usage_data import METRICS

TINY = Options(
    events=3_000,
    days=3,
    repetitions=1,
    warmup=1,
    clients=(1, 2),
    calls=2,
    batch=50,
    seconds=60,
    ingest_customers=3,
)


@pytest.fixture(scope="module")
def postgres() -> None:
    """Fail as conftest does when PostgreSQL is unreachable (skip only when told to)."""

    async def ping() -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        await connection.close()

    try:
        asyncio.run(ping())
    except (OSError, asyncpg.PostgresError) as error:
        if os.environ.get("CUSTOMERGRAPH_SKIP_POSTGRES") == "1":
            pytest.skip(f"PostgreSQL unreachable and CUSTOMERGRAPH_SKIP_POSTGRES=1: {error}")
        pytest.fail(f"PostgreSQL is required at {POSTGRES_ADMIN_URL}: {error}")


def test_tiny_run_agrees_with_the_hand_written_sql(postgres: None, tmp_path: Path) -> None:
    results = run(TINY, tmp_path)

    # costs: run() raised had the API's answer differed from the hand-written SQL's; it is
    # not vacuous: every metric has quantities on every day, in both credit types.
    answer = results.costs.answer
    assert {name for _, _, name, _ in answer.lines} == {spec.name for spec in METRICS}
    assert {day for day, _ in answer.totals} == {"2024-05-01", "2024-05-02", "2024-05-03"}
    assert {credit for _, credit in answer.totals} == {"USD", "CREDITS"}
    assert all(total > 0 for total in answer.totals.values())
    assert len(results.costs.api.seconds) == len(results.costs.sql.seconds) == 1

    # ingestion: API, INSERT floor and COPY, each with 1 and 2 clients, stored every event.
    sides = [
        [(cell.side, cell.clients, cell.events) for cell in cells] for cells in results.ingestion
    ]
    assert sides == [
        [(side, clients, TINY.calls * TINY.batch) for side in ("API", "floor", "COPY")]
        for clients in TINY.clients
    ]
    assert len(results.rows()) == 1 + 2 * len(TINY.clients)


def test_a_differing_answer_is_noticed() -> None:
    """The comparison itself: one quantity or one total off is reported."""
    key = ("2024-05-01", "USD", "API calls", None)
    costs = Costs(
        {key: (Decimal(3), Decimal("0.0003"))}, {("2024-05-01", "USD"): Decimal("0.0003")}
    )
    assert costs.differences(costs) == []
    assert (
        costs.differences(Costs({key: (Decimal("3.00"), Decimal("0.00030"))}, costs.totals)) == []
    )
    off = replace(costs, lines={key: (Decimal(4), Decimal("0.0003"))})
    assert len(off.differences(costs)) == 1
    assert len(replace(costs, totals={}).differences(costs)) == 1
