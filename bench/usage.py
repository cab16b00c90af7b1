"""`python -m bench.usage` (`make bench-usage`): usage billing through the API beside
hand-written SQL, on a fresh PostgreSQL database (issue 4, item 7).

One run: migrate; a tenant; through the API, customers and a plan of six billable metrics
with the heavy customer's subscription; that customer's events (1,000,000 over 30 days by
default) by COPY, then ANALYZE. `customergraph serve` runs as in `python -m bench` (one
uvicorn worker, no rate limit).

1. costs: `customer(id:) { costs(startingOn, endingBefore) }` over the days, beside the
   same daily aggregation per metric in hand-written SQL; the answers must agree before
   anything is timed; p50 of the repetitions. Target: API <= 1.5 x SQL.
2. ingestion: `ingestUsage` calls of 1,000 events with 1 and 8 clients beside the same
   rows inserted by one `INSERT ... ON CONFLICT DO NOTHING` per call (and by COPY, for
   reference). Target: API >= 0.5 x the INSERT.

The table goes to the terminal and, with the server log and results.json, to
bench/results/usage-<time>/ (git-ignored). The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import uvloop
from rich.console import Console

from bench import cpu, usage_costs, usage_ingest
from bench.common import machine, new_run_dir
from bench.databases import create_database, drop_database, migrate
from bench.report import markdown_table, table
from bench.servers import Server, running
from bench.usage_costs import Costs, Latency
from bench.usage_data import World, copy_heavy_events, make_plan, make_tenant
from bench.usage_ingest import Plan, Throughput

console = Console(stderr=True)
INGEST_TARGET = 0.5  # API events/s at least this share of the INSERT floor's
COSTS_TARGET = 1.5  # API p50 at most this multiple of the hand-written SQL's
HEADERS = ("measure", "clients", "API", "hand-written", "ratio", "target", "met", "others")
NOTE = (
    "ratio: API events/s over the hand-written INSERT's (ingestion), API p50 over the"
    " hand-written SQL's (costs). COPY is for reference: it can not skip duplicates."
    " others: cores other processes kept busy meanwhile."
)


@dataclass(frozen=True, slots=True)
class Options:
    events: int = 1_000_000  # the heavy customer's, for costs
    days: int = 30
    repetitions: int = 10  # measured costs requests, each side
    warmup: int = 2  # unmeasured costs requests each side, after the compared one
    clients: tuple[int, ...] = (1, 8)
    # Server processes: one per core, as in production (README); the floor's clients use
    # as many PostgreSQL connections as there are clients.
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    calls: int = 100  # measured ingestUsage calls per side and client count
    rounds: int = 4  # the sides take turns, each round a share of the calls
    batch: int = 1_000  # events per call
    seconds: float = 120.0  # at most, per side and client count
    ingest_customers: int = 50


@dataclass(frozen=True, slots=True)
class CostsResult:
    api: Latency
    sql: Latency
    others: float
    answer: Costs  # the API's, equal to the hand-written SQL's

    @property
    def ratio(self) -> float:
        return self.api.p50_ms / self.sql.p50_ms


@dataclass(frozen=True, slots=True)
class Results:
    options: Options
    costs: CostsResult
    ingestion: list[list[Throughput]]  # per client count: API, floor, COPY

    def rows(self) -> list[tuple[str, ...]]:
        costs, options = self.costs, self.options
        rows: list[tuple[str, ...]] = [
            (
                f"costs, {options.days} days, {options.events:,} events",
                "1",
                f"{costs.api.p50_ms:,.0f} ms p50 ({costs.api.p95_ms:,.0f} p95)",
                f"{costs.sql.p50_ms:,.0f} ms p50 ({costs.sql.p95_ms:,.0f} p95)",
                f"{costs.ratio:.2f}",
                f"<= {COSTS_TARGET:.2f}",
                _met(costs.ratio <= COSTS_TARGET),
                f"{costs.others:.2f}",
            )
        ]
        for api, *floors in self.ingestion:
            for floor in floors:
                ratio = api.events_per_second / floor.events_per_second
                reference = floor.side == "COPY"
                measure = f"ingestUsage, {options.batch:,} events a call"
                rows.append(
                    (
                        "beside COPY (reference)" if reference else measure,
                        str(api.clients),
                        f"{api.events_per_second:,.0f} events/s",
                        f"{floor.events_per_second:,.0f} events/s ({floor.side})",
                        f"{ratio:.2f}",
                        "-" if reference else f">= {INGEST_TARGET:.2f}",
                        "-" if reference else _met(ratio >= INGEST_TARGET),
                        f"{max(api.others, floor.others):.2f}",
                    )
                )
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "options": asdict(self.options),
            "costs": {
                "api": self.costs.api.to_dict(),
                "sql": self.costs.sql.to_dict(),
                "ratio": self.costs.ratio,
                "others_cores": self.costs.others,
                "lines_compared": len(self.costs.answer.lines),
            },
            "ingestion": [[cell.to_dict() for cell in cells] for cells in self.ingestion],
        }


def _met(yes: bool) -> str:
    return "yes" if yes else "NO"


def _with_others(server: Server, work: Any) -> tuple[Any, float]:
    """Run a coroutine on uvloop; its result and the cores other processes used meanwhile."""
    before = cpu.sample((server.process.pid,))
    found = uvloop.run(work)
    return found, cpu.others(before, cpu.sample((server.process.pid,)))


def measure_costs(server: Server, world: World, options: Options) -> CostsResult:
    work = usage_costs.measure(server.url, world, options.days, options.repetitions, options.warmup)
    (api, sql, answer), others = _with_others(server, work)
    return CostsResult(api, sql, others, answer)


def measure_ingestion(server: Server, world: World, options: Options) -> list[list[Throughput]]:
    cells = []
    for clients in options.clients:
        plan = Plan(clients, options.calls, options.batch, options.seconds, options.days)
        console.print(f"  ingestion: {clients} client(s), {options.rounds} rounds")
        sample = partial(cpu.sample, (server.process.pid,))
        work = usage_ingest.measure(
            usage_ingest.sinks(world, server.url), plan, options.rounds, sample, cpu.others
        )
        cells.append(uvloop.run(work))
    return cells


def run(options: Options, run_dir: Path) -> Results:
    """The whole benchmark on a fresh PostgreSQL database, dropped at the end."""
    database = create_database("postgresql", run_dir)
    try:
        migrate(database.url)
        tenant_id, key = asyncio.run(make_tenant(database.url))
        with running("customergraph", database.url, run_dir, options.workers) as server:
            world = make_plan(database.url, server.url, key, tenant_id, options.ingest_customers)
            console.print(f"loading {options.events:,} events over {options.days} days (COPY)")
            started = time.perf_counter()
            asyncio.run(copy_heavy_events(world, options.events, options.days))
            console.print(f"  loaded and analyzed in {time.perf_counter() - started:.1f} s")
            console.print(f"costs: {options.warmup} + {options.repetitions} requests each side")
            costs = measure_costs(server, world, options)
            ingestion = measure_ingestion(server, world, options)
        return Results(options, costs, ingestion)
    finally:
        drop_database(database)


def parse_args(argv: list[str] | None) -> Options:
    defaults = Options()
    parser = argparse.ArgumentParser(prog="python -m bench.usage", description=__doc__)
    parser.add_argument("--events", type=int, default=defaults.events)
    parser.add_argument("--days", type=int, default=defaults.days)
    parser.add_argument("--repetitions", type=int, default=defaults.repetitions)
    parser.add_argument("--warmup", type=int, default=defaults.warmup)
    parser.add_argument("--clients", default=",".join(map(str, defaults.clients)))
    parser.add_argument("--calls", type=int, default=defaults.calls)
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--batch", type=int, default=defaults.batch)
    parser.add_argument("--seconds", type=float, default=defaults.seconds)
    parser.add_argument("--workers", type=int, default=defaults.workers)
    args = parser.parse_args(argv)
    clients = tuple(int(value) for value in args.clients.split(","))
    return Options(**(vars(args) | {"clients": clients}))


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    started, run_dir = new_run_dir("usage")
    clock = time.perf_counter()
    results = run(options, run_dir)
    about = machine()
    title = (
        f"usage billing, {started:%Y-%m-%d %H:%M} UTC, PostgreSQL,"
        f" {about['cores']} cores shared by server ({options.workers} worker(s)), clients and"
        " database"
    )
    Console(width=max(140, Console().width)).print(
        table(HEADERS, results.rows(), title, NOTE, left=1)
    )
    (run_dir / "table.md").write_text(markdown_table(HEADERS, results.rows(), left=1))
    record = {
        "started": started.isoformat(),
        "machine": about,
        "seconds_total": round(time.perf_counter() - clock, 1),
        **results.to_dict(),
    }
    (run_dir / "results.json").write_bytes(orjson.dumps(record, option=orjson.OPT_INDENT_2))
    console.print(f"results in {run_dir}")


if __name__ == "__main__":
    main()
