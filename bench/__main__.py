"""`python -m bench` (`make bench`): CustomerGraph against the floor, on each backend.

For each backend: a fresh database with the dataset; the statements per request counted
in-process; then `customergraph serve` and the floor side by side (the idle one costs
nothing), their answers compared, and each cell (query x connections) measured by
`bench.load` in a process of its own, CustomerGraph then the floor back to back. One table
at the end; the run's files (dataset facts with the API key, server logs, results.json,
table.md) go to bench/results/run-<time>/ (git-ignored). The databases are dropped."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from rich.console import Console

from bench import cpu, profile
from bench.common import QUERIES, RESULTS, ROOT, machine
from bench.databases import BACKENDS, create_database, drop_database
from bench.dataset import prepare
from bench.load import LoadResult, request_body
from bench.profile import Profile
from bench.report import Cell, Measured, errors, markdown, rich_table
from bench.servers import CUSTOMERGRAPH, EXECUTOR, FLOOR, Server, running
from bench.statements import count_statements

console = Console(stderr=True)
Variables = dict[str, Any] | None
TABLE_WIDTH = 130  # rich's default, 80 columns off a terminal, would squeeze the table


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured, per cell")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured, per cell")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--connections", default="1,32")
    parser.add_argument("--workers", default="1,2", help="server processes, e.g. 1,2")
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=(os.cpu_count() or 1) >= 2,
        help="one-worker servers on CPU 0, the load driver on the last CPU (taskset)",
    )
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="py-spy CustomerGraph (one worker, PostgreSQL) under each query, after the cells",
    )
    parser.add_argument("--profile-seconds", type=float, default=8.0)
    parser.add_argument(
        "--executor",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure (and profile) CustomerGraph with DIRECT_READS=false",
    )
    return parser.parse_args(argv)


def answers(server: Server, key: str, bodies: dict[str, bytes]) -> dict[str, Any]:
    """The `data` of each query's answer (CustomerGraph adds `extensions`, the floor not)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    found = {}
    for name, body in bodies.items():
        response = httpx.post(server.url, content=body, headers=headers, timeout=30)
        response.raise_for_status()
        answer = response.json()
        if "errors" in answer:
            raise SystemExit(f"{server.name} answered {name} with errors: {answer['errors']}")
        found[name] = answer["data"]
    return found


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how long one backend's cells are measured."""

    key: str
    servers: tuple[Server, ...]
    seconds: float
    warmup: float
    load_cpus: str | None = None  # taskset's list for the load driver


def load_command(
    target: Target, server: Server, query: str, variables: Variables, connections: int
) -> list[str]:
    command = [
        *(sys.executable, "-m", "bench.load", "--url", server.url, "--key", target.key),
        *("--query", query, "--connections", str(connections)),
        *("--seconds", str(target.seconds), "--warmup", str(target.warmup)),
    ]
    if variables:
        command += ["--variables", orjson.dumps(variables).decode()]
    return ["taskset", "--cpu-list", target.load_cpus, *command] if target.load_cpus else command


def load(
    target: Target, server: Server, query: str, variables: Variables, connections: int
) -> Measured:
    """`bench.load` in a process of its own against a running server; its result and the
    cores other processes kept busy meanwhile."""
    command = load_command(target, server, query, variables, connections)
    pids = tuple(each.process.pid for each in target.servers)
    before, spent = cpu.sample(pids), cpu.family_cpu(server.process.pid)
    done = subprocess.run(  # noqa: S603 - our own module
        command, cwd=ROOT, capture_output=True, check=False, timeout=target.seconds + 120
    )
    if done.returncode:
        state = server.process.poll()
        alive = "running" if state is None else f"exited with {state}"
        message = f"bench.load against {server.name} ({alive}) failed:\n{done.stderr.decode()}"
        raise RuntimeError(message)
    after = cpu.sample(pids)
    spent = cpu.family_cpu(server.process.pid) - spent
    if done.stderr:
        console.print(f"[yellow]{server.name} {query}:[/yellow] {done.stderr.decode().strip()}")
    result = LoadResult.from_dict(orjson.loads(done.stdout))
    # Answers served over the warm-up and the measurement, at the measured rate.
    served = result.rps * (target.warmup + target.seconds)
    per_request = (1000 / served) if served else float("nan")
    return Measured(
        result,
        cpu.others(before, after),
        spent * per_request,
        cpu.postgres_spent(before, after) * per_request,
    )


def bench_backend(
    backend: str, args: argparse.Namespace, run_dir: Path
) -> tuple[list[Cell], dict[str, Profile]]:
    connections = [int(value) for value in args.connections.split(",")]
    database = create_database(backend, run_dir)
    last_cpu = str((os.cpu_count() or 1) - 1)
    try:
        console.print(f"[bold]{backend}[/bold]: dataset of {args.customers:,} customers")
        facts = prepare(database.url, args.customers, run_dir / f"dataset-{backend}.json")
        key = facts["api_key"]
        variables: dict[str, Variables] = {q: None for q in QUERIES}
        variables["q3"] = {"id": facts["sample_customer_id"]}
        bodies = {q: request_body(q, variables[q]) for q in QUERIES}
        statements = asyncio.run(count_statements(database.url, key, bodies))
        cells: list[Cell] = []
        profiles: dict[str, Profile] = {}
        for workers in (int(value) for value in args.workers.split(",")):
            server_cpus = "0" if args.pin and workers == 1 else None
            with ExitStack() as stack:
                ours = stack.enter_context(
                    running(CUSTOMERGRAPH, database.url, run_dir, workers, server_cpus)
                )
                floor = stack.enter_context(
                    running(FLOOR, database.url, run_dir, workers, server_cpus)
                )
                executor = (
                    stack.enter_context(
                        running(EXECUTOR, database.url, run_dir, workers, server_cpus)
                    )
                    if args.executor
                    else None
                )
                servers = (ours, floor, *([executor] if executor else []))
                expected = answers(floor, key, bodies)
                if any(answers(server, key, bodies) != expected for server in servers):
                    raise SystemExit("the floor's answers differ from CustomerGraph's")
                load_cpus = last_cpu if args.pin else None
                target = Target(key, servers, args.seconds, args.warmup, load_cpus)
                for query in QUERIES:
                    for count in connections:
                        console.print(f"  {workers} worker(s) {query} x{count}")
                        # Back to back, so a change in background load touches all alike.
                        mine = load(target, ours, query, variables[query], count)
                        floors = load(target, floor, query, variables[query], count)
                        old = (
                            load(target, executor, query, variables[query], count)
                            if executor
                            else None
                        )
                        cells.append(
                            Cell(backend, query, mine, floors, statements[query], workers, old)
                        )
                if args.profile and workers == 1 and backend == "postgresql":
                    profiles = profile_queries(target, ours, variables, args, run_dir)
                    if executor is not None:
                        profiles |= profile_queries(
                            target, executor, variables, args, run_dir, "executor "
                        )
        return cells, profiles
    finally:
        drop_database(database)


def profile_queries(
    target: Target,
    server: Server,
    variables: dict[str, Variables],
    args: argparse.Namespace,
    run_dir: Path,
    label: str = "",
) -> dict[str, Profile]:
    """py-spy on a server while 32 connections send each query (bench/profile.py); the
    profiles are named `{label}{query}`."""
    found: dict[str, Profile] = {}
    long_enough = replace(target, seconds=args.profile_seconds + 2, warmup=0.5)
    for query in QUERIES:
        console.print(f"  profile {label}{query}")
        command = load_command(long_enough, server, query, variables[query], 32)
        driver = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)  # noqa: S603
        try:
            time.sleep(1)
            out = run_dir / f"profile-{label.strip() or server.name}-{query}.txt"
            if not profile.record(server.process.pid, args.profile_seconds, out):
                console.print("[yellow]py-spy is not installed: no profile[/yellow]")
                return found
            found[f"{label}{query}"] = profile.summarise(out.read_text())
        finally:
            driver.wait(timeout=args.profile_seconds + 120)
    return found


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = datetime.now(UTC)
    run_dir = RESULTS / f"run-{started:%Y%m%dT%H%M%SZ}"
    run_dir.mkdir(parents=True)
    clock = time.perf_counter()
    cells: list[Cell] = []
    profiles: dict[str, Profile] = {}
    for backend in args.backends.split(","):
        measured, profiled = bench_backend(backend.strip(), args, run_dir)
        cells += measured
        profiles |= profiled
    about = machine()
    title = (
        f"{started:%Y-%m-%d %H:%M} UTC, {args.customers:,} customers, {args.seconds:g} s per cell,"
        f" {about['cores']} cores"
        + (", one-worker servers on CPU 0 and the load driver on the last" if args.pin else "")
    )
    Console(width=max(TABLE_WIDTH, Console().width)).print(rich_table(cells, title))
    for line in errors(cells):
        console.print(f"[red]{line}[/red]")
    profile_text = "".join(profile.markdown(q, found) + "\n" for q, found in profiles.items())
    (run_dir / "table.md").write_text(markdown(cells) + "\n" + profile_text)
    if profile_text:
        print(profile_text)
    record = {
        "started": started.isoformat(),
        "arguments": vars(args),
        "machine": about,
        "seconds_total": round(time.perf_counter() - clock, 1),
        "cells": [
            {
                "backend": cell.backend,
                "workers": cell.workers,
                "query": cell.query,
                "statements": cell.statements,
                "customergraph": cell.customergraph.to_dict(),
                "floor": cell.floor.to_dict(),
                "executor": None if cell.executor is None else cell.executor.to_dict(),
            }
            for cell in cells
        ],
        "profiles": {
            query: {"samples": found.samples, "self": found.self_time, "total": found.total_time}
            for query, found in profiles.items()
        },
    }
    (run_dir / "results.json").write_bytes(orjson.dumps(record, option=orjson.OPT_INDENT_2))
    console.print(f"results in {run_dir}")


if __name__ == "__main__":
    main()
