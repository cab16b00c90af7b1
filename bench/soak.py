"""`python -m bench.soak`: a bounded mixed read/write load on loopback for N minutes.

    python -m bench.soak --minutes 10 --backend postgresql --connections 8

A fresh database with the bench dataset, the real server (`customergraph serve`: one
uvicorn worker, RATE_LIMIT_PER_MINUTE=0), then C keep-alive connections in a closed loop
(each sends its next request once the last answer is read; `--rate` caps the total) drawing
from bench/mix.py: 80% reads, 20% writes. Every answer is checked; at the end every
acknowledged create is read back and compared with its last acknowledged write. Meanwhile
the server's RSS is sampled from /proc/<pid>/status.

Criteria: no errors (a non-200, GraphQL `errors`, `userErrors`, wrong data, a transport
failure); no lost writes; RSS at the end less than 10% above RSS at the end of the warm-up
(the first tenth of the run). Prints a table per time window (requests, errors, p50, p99,
RSS) and the summary; writes them as Markdown and JSON to bench/results/soak-<UTC time>/;
exits 1 when a criterion fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import os
import random
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import uvloop
from rich.console import Console

from bench import cpu
from bench.common import HOST, RESULTS, machine
from bench.databases import BACKENDS, create_database, drop_database
from bench.dataset import first_tenant_customers, prepare
from bench.load import http_request, percentile, read_response
from bench.mix import (
    WRITES,
    Call,
    Client,
    Data,
    Unexpected,
    World,
    Written,
    body,
    lost,
    persisted_body,
    read_back_bodies,
)
from bench.report import markdown_table, ms, table
from bench.servers import running

console = Console(stderr=True)
REQUEST_TIMEOUT = 30.0  # an answer slower than this is an error (and the connection is reopened)
RSS_LIMIT = 10.0  # percent of growth after warm-up
FAILURES_KEPT = 20  # the first failures, word for word, in the report
TABLE_WIDTH = 120
TRANSPORT = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError)


@dataclass(frozen=True, slots=True)
class Options:
    backend: str = "postgresql"
    seconds: float = 600.0
    connections: int = 8
    customers: int = 10_000
    rate: float = 0.0  # requests per second over all connections; 0: as fast as answered
    window: float = 0.0  # seconds per window; 0: a tenth of the run, at most 60 s
    warmup: float = 0.0  # seconds before the RSS baseline; 0: a tenth of the run
    seed: int = 1

    @property
    def window_seconds(self) -> float:
        return self.window or min(60.0, self.seconds / 10)

    @property
    def warmup_seconds(self) -> float:
        return self.warmup or self.seconds / 10

    @property
    def rss_every(self) -> float:
        """Seconds between RSS samples: a hundred or so per run, 0.5 to 5 s apart."""
        return min(5.0, max(0.5, self.seconds / 100))


@dataclass(frozen=True, slots=True)
class Answer:
    at: float  # seconds since the load began, when the answer was read
    op: str
    latency: float  # seconds
    ok: bool


@dataclass(frozen=True, slots=True)
class Failure:
    at: float
    op: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{_clock(self.at)} {self.op}: {self.kind}: {self.detail}"


@dataclass(slots=True)
class Tally:
    start: float  # perf_counter
    stop: float
    answers: list[Answer] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, kB)
    cpu: list[cpu.Sample] = field(default_factory=list)  # at each window's edges
    server_cpu: list[float] = field(default_factory=list)  # the server's CPU s, at the same
    cores: dict[str, float] = field(default_factory=dict)  # average cores busy, by whom

    def record(self, op: str, sent: float, done: float, problem: tuple[str, str] | None) -> None:
        self.answers.append(Answer(done - self.start, op, done - sent, problem is None))
        if problem is not None:
            self.failures.append(Failure(done - self.start, op, *problem))


class Connection:
    """One keep-alive HTTP/1.1 connection (bench.load's wire format), reopened when closed."""

    def __init__(self, url: str, key: str) -> None:
        parts = urlsplit(url)
        self.url, self.key = url, key
        self.host, self.port = parts.hostname or HOST, parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, payload: bytes) -> tuple[int, bytes]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(http_request(self.url, self.key, payload))
        status, answer, close = await read_response(self.reader)
        if close:
            await self.close()
        return status, answer

    async def close(self) -> None:
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def judge(status: int, answer: bytes, check: Callable[[Data], None]) -> tuple[str, str] | None:
    """(kind, detail) of what is wrong with one answer; None when it is right."""
    if status != 200:
        return f"HTTP {status}", answer[:300].decode(errors="replace")
    try:
        parsed = orjson.loads(answer)
    except orjson.JSONDecodeError:
        return "not JSON", answer[:300].decode(errors="replace")
    if parsed.get("errors"):
        return "GraphQL errors", orjson.dumps(parsed["errors"]).decode()[:300]
    try:
        check(parsed["data"])
    except Unexpected as problem:
        return problem.kind, problem.detail
    except (KeyError, TypeError, AttributeError) as problem:
        return "wrong data", f"unexpected shape: {problem!r}"
    return None


async def exchange(
    connection: Connection, call: Call, tally: Tally, sent: float | None = None
) -> None:
    """Send one call, judge its answer and record it."""
    sent = time.perf_counter() if sent is None else sent
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            status, answer = await connection.post(call.payload)
    except TRANSPORT as error:
        await connection.close()
        tally.record(call.op, sent, time.perf_counter(), ("transport", repr(error)))
        return
    tally.record(call.op, sent, time.perf_counter(), judge(status, answer, call.check))


async def drive(client: Client, connection: Connection, tally: Tally, interval: float) -> None:
    """One connection's closed loop until the stop time; at most one request per `interval`."""
    due = time.perf_counter()
    try:
        while (sent := time.perf_counter()) < tally.stop:
            if interval:
                if due > sent:
                    await asyncio.sleep(due - sent)
                    sent = time.perf_counter()
                due = max(due, sent) + interval
            await exchange(connection, client.next_call(), tally, sent)
    finally:
        await connection.close()


def _own_cpu() -> float:
    """CPU seconds of this process alone (the load generator)."""
    times = os.times()
    return times.user + times.system


def rss_kb(pid: int) -> int | None:
    """VmRSS of a live process, in kB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


async def sample_rss(pid: int, tally: Tally, every: float) -> None:
    while (now := time.perf_counter()) < tally.stop:
        if (kb := rss_kb(pid)) is not None:
            tally.rss.append((now - tally.start, kb))
        await asyncio.sleep(min(every, max(0.0, tally.stop - now)))


def edges(seconds: float, window: float) -> list[float]:
    """Window boundaries in seconds from the start: equal windows close to `window` long."""
    count = max(1, round(seconds / window))
    return [seconds * index / count for index in range(count + 1)]


async def sample_cpu(pid: int, tally: Tally, at: list[float]) -> None:
    """The machine's and our CPU time at each window edge (for `others`); a progress line."""
    for offset in at:
        await asyncio.sleep(max(0.0, tally.start + offset - time.perf_counter()))
        tally.cpu.append(cpu.sample((pid,)))
        tally.server_cpu.append(cpu.process_cpu(pid))
        if offset and tally.rss:
            console.print(
                f"  {_clock(offset)}: {len(tally.answers):,} answers,"
                f" {len(tally.failures)} failed, RSS {tally.rss[-1][1] / 1024:.1f} MB"
            )


async def setup(url: str, key: str, customers: int) -> World:
    """The tenant's plans, q1 registered by hash, and the dataset's first tenant."""
    connection = Connection(url, key)
    try:
        status, answer = await connection.post(body("plans"))
        plans = [each["id"] for each in orjson.loads(answer)["data"]["plans"]["nodes"]]
        status, answer = await connection.post(persisted_body(with_document=True))
        if status != 200 or b'"errors"' in answer or not plans:
            raise RuntimeError(f"the soak could not set up: {status} {answer[:300]!r}")
    finally:
        await connection.close()
    return World(secrets.token_hex(4), first_tenant_customers(customers), plans)


async def read_back(url: str, key: str, written: list[Written], tally: Tally) -> list[str]:
    """Every acknowledged customer as the API reads it now; a line for each one lost."""
    found: list[str] = []
    connection = Connection(url, key)
    try:
        for batch, payload in read_back_bodies(written):

            def check(data: Data, batch: list[Written] = batch) -> None:
                found.extend(lost(batch, data))

            await exchange(connection, Call("read back", payload, check), tally)
    finally:
        await connection.close()
    return found


@dataclass(frozen=True, slots=True)
class Window:
    start: float
    end: float
    requests: int
    writes: int
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    rss_mb: float | None  # the last sample in the window
    others: float | None  # cores other processes kept busy
    cpu_ms: float | None  # the server's CPU time per request

    def row(self) -> tuple[str, ...]:
        return (
            f"{_clock(self.start)}–{_clock(self.end)}",
            f"{self.requests:,}",
            f"{self.requests / max(self.end - self.start, 1e-9):,.0f}",
            f"{self.writes:,}",
            str(self.errors),
            ms(self.p50_ms),
            ms(self.p99_ms),
            ms(self.max_ms),
            ms(self.cpu_ms),
            "-" if self.rss_mb is None else f"{self.rss_mb:.1f}",
            "-" if self.others is None else f"{self.others:.2f}",
        )


WINDOW_HEADERS = (
    *("window", "requests", "req/s", "writes", "errors"),
    *("p50 ms", "p99 ms", "max ms", "CPU ms/req", "RSS MB", "others"),
)
OPERATION_HEADERS = ("operation", "requests", "errors", "p50 ms", "p99 ms", "max ms")
SUMMARY_HEADERS = ("measure", "value", "criterion", "result")


def _clock(seconds: float) -> str:
    """m:ss, with tenths when there are any (the windows of a short run)."""
    tenths = round(seconds * 10)
    minutes, rest = divmod(tenths, 600)
    return f"{minutes}:{rest // 10:02d}" + (f".{rest % 10}" if rest % 10 else "")


def _latencies(answers: list[Answer]) -> tuple[float, float, float]:
    ordered = sorted(each.latency for each in answers if each.ok)
    top = ordered[-1] * 1000 if ordered else math.nan
    return percentile(ordered, 0.50), percentile(ordered, 0.99), top


def _rss_at(samples: list[tuple[float, int]], moment: float) -> float | None:
    """MB of the last sample taken at or before `moment` (the first one if none is)."""
    if not samples:
        return None
    before = [kb for at, kb in samples if at <= moment]
    return (before[-1] if before else samples[0][1]) / 1024


def windows(tally: Tally, at: list[float]) -> list[Window]:
    found = []
    for index, (start, end) in enumerate(itertools.pairwise(at)):
        last = index == len(at) - 2  # answers read after the stop time count in the last one
        inside = [a for a in tally.answers if start <= a.at < end or (last and a.at >= end)]
        inside = [a for a in inside if a.op != "read back"]
        p50, p99, top = _latencies(inside)
        others = cpu_ms = None
        if len(tally.cpu) > index + 1:
            others = cpu.others(tally.cpu[index], tally.cpu[index + 1])
            spent = tally.server_cpu[index + 1] - tally.server_cpu[index]
            cpu_ms = spent * 1000 / len(inside) if inside else math.nan
        found.append(
            Window(
                start=start,
                end=end,
                requests=len(inside),
                writes=sum(1 for a in inside if a.op in WRITES),
                errors=sum(1 for a in inside if not a.ok),
                p50_ms=p50,
                p99_ms=p99,
                max_ms=top,
                rss_mb=_rss_at(tally.rss, end),
                others=others,
                cpu_ms=cpu_ms,
            )
        )
    return found


def _slope(samples: list[tuple[float, int]]) -> float:
    """Least-squares trend of RSS over the samples, in MB per minute."""
    if len(samples) < 2:
        return 0.0
    xs = [at / 60 for at, _ in samples]
    ys = [kb / 1024 for _, kb in samples]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if not spread:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


@dataclass(slots=True)
class Report:
    options: Options
    started: str
    machine: dict[str, Any]
    windows: list[Window]
    operations: list[tuple[str, int, int, float, float, float]]
    rss: list[tuple[float, int]]
    failures: list[Failure]
    errors: int
    lost: list[str]
    acknowledged: dict[str, int]  # acknowledged writes by operation
    creates: int  # customers created and acknowledged: every one was read back
    requests: int
    rss_warm_mb: float
    rss_end_mb: float
    rss_peak_mb: float
    rss_slope: float  # MB per minute after warm-up
    p50_ms: float
    p99_ms: float
    cores: dict[str, float]
    criteria: list[tuple[str, str, str, bool]] = field(default_factory=list)

    @property
    def growth(self) -> float:
        """RSS growth after warm-up, in percent."""
        return (self.rss_end_mb / self.rss_warm_mb - 1) * 100 if self.rss_warm_mb else math.nan

    @property
    def passed(self) -> bool:
        return all(ok for *_, ok in self.criteria)

    def summary_rows(self) -> list[tuple[str, ...]]:
        cores = " / ".join(f"{value:.2f}" for value in self.cores.values())
        rows: list[tuple[str, ...]] = [
            ("requests (load)", f"{self.requests:,}", "", ""),
            ("p50 / p99 ms (whole run)", f"{ms(self.p50_ms)} / {ms(self.p99_ms)}", "", ""),
            ("cores busy: " + ", ".join(self.cores), cores, "", ""),
            ("acknowledged creates (read back)", f"{self.creates:,}", "", ""),
        ]
        for op, count in self.acknowledged.items():
            if op != "create":
                rows.append((f"acknowledged {op}", f"{count:,}", "", ""))
        warm = _clock(self.options.warmup_seconds)
        rows += [
            (f"RSS at {warm} (warm-up end) MB", f"{self.rss_warm_mb:.1f}", "", ""),
            ("RSS at the end MB", f"{self.rss_end_mb:.1f}", "", ""),
            ("RSS peak MB", f"{self.rss_peak_mb:.1f}", "", ""),
            ("RSS trend after warm-up MB/min", f"{self.rss_slope:+.2f}", "", ""),
        ]
        rows += [
            (name, value, limit, "PASS" if ok else "FAIL")
            for name, value, limit, ok in self.criteria
        ]
        return rows

    def operation_rows(self) -> list[tuple[str, ...]]:
        return [
            (op, f"{count:,}", str(errors), ms(p50), ms(p99), ms(top))
            for op, count, errors, p50, p99, top in self.operations
        ]

    def markdown(self) -> str:
        parts = [
            markdown_table(WINDOW_HEADERS, (w.row() for w in self.windows)),
            markdown_table(SUMMARY_HEADERS, self.summary_rows()),
            markdown_table(OPERATION_HEADERS, self.operation_rows()),
        ]
        if self.failures:
            parts.append("First failures:\n\n" + "".join(f"- {f}\n" for f in self.failures))
        if self.lost:
            parts.append("Lost writes:\n\n" + "".join(f"- {line}\n" for line in self.lost[:20]))
        return "\n".join(parts)

    def print(self, out: Console) -> None:
        title = (
            f"Soak {self.started}, {self.options.backend}, {self.options.connections} connections,"
            f" {self.options.seconds / 60:g} min"
        )
        out.print(table(WINDOW_HEADERS, (w.row() for w in self.windows), title))
        out.print(table(OPERATION_HEADERS, self.operation_rows(), "Per operation"))
        out.print(table(SUMMARY_HEADERS, self.summary_rows(), "Summary"))
        for failure in self.failures:
            out.print(f"[red]{failure}[/red]")
        for line in self.lost[:20]:
            out.print(f"[red]lost: {line}[/red]")

    def to_dict(self) -> dict[str, Any]:
        return {
            "options": asdict(self.options),
            "started": self.started,
            "machine": self.machine,
            "passed": self.passed,
            "criteria": [
                {"name": name, "value": value, "limit": limit, "passed": ok}
                for name, value, limit, ok in self.criteria
            ],
            "requests": self.requests,
            "errors": self.errors,
            "lost_writes": len(self.lost),
            "acknowledged_creates": self.creates,
            "acknowledged": self.acknowledged,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "cores": self.cores,
            "rss": {
                "warm_mb": self.rss_warm_mb,
                "end_mb": self.rss_end_mb,
                "peak_mb": self.rss_peak_mb,
                "growth_percent": self.growth,
                "slope_mb_per_minute": self.rss_slope,
                "samples": self.rss,
            },
            "windows": [asdict(w) for w in self.windows],
            "operations": [
                dict(
                    zip(("op", "requests", "errors", "p50_ms", "p99_ms", "max_ms"), op, strict=True)
                )
                for op in self.operations
            ],
            "failures": [asdict(f) for f in self.failures],
            "lost": self.lost,
        }


def report(
    options: Options,
    started: datetime,
    about: dict[str, Any],
    tally: Tally,
    at: list[float],
    written: list[Written],
    missing: list[str],
) -> Report:
    load = [a for a in tally.answers if a.op != "read back"]
    operations = []
    for op in sorted({a.op for a in tally.answers}):
        mine = [a for a in tally.answers if a.op == op]
        operations.append((op, len(mine), sum(not a.ok for a in mine), *_latencies(mine)))
    acknowledged = {op: sum(1 for a in load if a.op == op and a.ok) for op in WRITES}
    warm = options.warmup_seconds
    after = [(t, kb) for t, kb in tally.rss if t >= warm]
    p50, p99, _ = _latencies(load)
    errors = sum(not a.ok for a in tally.answers)
    found = Report(
        options=options,
        started=f"{started:%Y-%m-%d %H:%M} UTC",
        machine=about,
        windows=windows(tally, at),
        operations=operations,
        rss=tally.rss,
        failures=tally.failures[:FAILURES_KEPT],
        errors=errors,
        lost=missing,
        acknowledged=acknowledged,
        creates=len(written),
        requests=len(load),
        rss_warm_mb=_rss_at(tally.rss, warm) or math.nan,
        rss_end_mb=tally.rss[-1][1] / 1024 if tally.rss else math.nan,
        rss_peak_mb=max((kb for _, kb in tally.rss), default=0) / 1024,
        rss_slope=_slope(after),
        p50_ms=p50,
        p99_ms=p99,
        cores=tally.cores,
    )
    found.criteria = [
        ("errors", f"{errors:,}", "0", errors == 0),
        ("lost writes", f"{len(missing):,}", "0", not missing),
        (
            "RSS growth after warm-up",
            f"{found.growth:+.1f}%",
            f"< {RSS_LIMIT:g}%",
            found.growth < RSS_LIMIT,
        ),
    ]
    return found


async def load(url: str, key: str, pid: int, options: Options) -> Report:
    """The soak against a running server (process `pid`) whose first tenant `key` opens."""
    world = await setup(url, key, options.customers)
    about = machine()  # now: the code the server runs, not what the tree holds at the end
    started = datetime.now(UTC)
    now = time.perf_counter()
    tally = Tally(start=now, stop=now + options.seconds)
    at = edges(options.seconds, options.window_seconds)
    clients = [
        Client(number, world, random.Random(f"{options.seed}-{number}"))
        for number in range(options.connections)
    ]
    interval = options.connections / options.rate if options.rate else 0.0
    before = (cpu.process_cpu(pid), _own_cpu())
    await asyncio.gather(
        sample_rss(pid, tally, options.rss_every),
        sample_cpu(pid, tally, at),
        *(drive(client, Connection(url, key), tally, interval) for client in clients),
    )
    wall = time.perf_counter() - tally.start
    tally.cores = {
        "server": (cpu.process_cpu(pid) - before[0]) / wall,
        "load generator": (_own_cpu() - before[1]) / wall,
        "others": cpu.others(tally.cpu[0], tally.cpu[-1]) if len(tally.cpu) > 1 else math.nan,
    }
    if (kb := rss_kb(pid)) is not None:
        tally.rss.append((time.perf_counter() - tally.start, kb))
    written = [each for client in clients for each in client.owned]
    missing = await read_back(url, key, written, tally)
    return report(options, started, about, tally, at, written, missing)


def soak(options: Options, run_dir: Path) -> Report:
    """A fresh database and dataset, the server, the load and the read-back; all dropped after."""
    database = create_database(options.backend, run_dir)
    try:
        console.print(f"{options.backend}: dataset of {options.customers:,} customers")
        facts = prepare(database.url, options.customers, run_dir / "dataset.json")
        with running("customergraph", database.url, run_dir) as server:
            console.print(
                f"soak: {options.connections} connections for {options.seconds:g} s"
                f" against {server.url} (pid {server.process.pid})"
            )
            return uvloop.run(load(server.url, facts["api_key"], server.process.pid, options))
    finally:
        drop_database(database)


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--backend", choices=BACKENDS, default="postgresql")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--customers", type=int, default=10_000, help="the bench dataset's size")
    parser.add_argument("--rate", type=float, default=0.0, help="req/s cap over all connections")
    parser.add_argument("--window", type=float, default=0.0, help="seconds; default: run / 10")
    parser.add_argument("--warmup", type=float, default=0.0, help="seconds; default: run / 10")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    return Options(
        backend=args.backend,
        seconds=args.minutes * 60,
        connections=args.connections,
        customers=args.customers,
        rate=args.rate,
        window=args.window,
        warmup=args.warmup,
        seed=args.seed,
    )


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    started = datetime.now(UTC)
    run_dir = RESULTS / f"soak-{started:%Y%m%dT%H%M%SZ}"
    run_dir.mkdir(parents=True)
    found = soak(options, run_dir)
    found.print(Console(width=max(TABLE_WIDTH, Console().width)))
    (run_dir / "report.md").write_text(found.markdown())
    (run_dir / "soak.json").write_bytes(orjson.dumps(found.to_dict(), option=orjson.OPT_INDENT_2))
    console.print(f"results in {run_dir}")
    if not found.passed:
        sys.exit(1)


if __name__ == "__main__":
    main()
