"""Ingestion throughput: `ingestUsage` through HTTP beside the same rows inserted by hand.

Each side gets the same fixed amount of work, a list of calls of `batch` events with
fresh transaction ids, shared by N clients in a closed loop (a client takes the next call
as soon as its last one is answered). Before it, one unmeasured call per client warms the
connections up. Events/s is the events stored over the wall time from the first call to
the last answer.

- **API**: one keep-alive HTTP/1.1 connection per client, posting prebuilt bodies; an
  answer counts only if every event was accepted.
- **floor**: one asyncpg connection per client (as the owner, so without row-level
  security), one `INSERT … SELECT FROM unnest($1, …, $7) ON CONFLICT (tenant_id,
  transaction_id) DO NOTHING` per call, in its own transaction: what `ingestUsage` stores,
  with the same conflict check, in one statement and one round trip.
- **COPY**: the same rows by `copy_records_to_table`; for reference only, since COPY can not
  skip duplicates, which `ingestUsage` must.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import asyncpg
import orjson

from bench.load import http_request, percentile, read_response
from bench.usage_data import COLUMNS, Event, World, events

T = TypeVar("T")
Call = Callable[[T], Awaitable[int]]  # sends one unit of work; the events it stored

INGEST = """mutation($events: [UsageEventInput!]!) {
  ingestUsage(input: {events: $events}) { accepted duplicates userErrors { field code message } }
}"""
COLUMN_LIST = ", ".join(f'"{name}"' for name in COLUMNS)
FLOOR_INSERT = f"""
INSERT INTO usage_events ({COLUMN_LIST})
SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[],
                     $6::jsonb[], $7::timestamptz[])
ON CONFLICT (tenant_id, transaction_id) DO NOTHING
"""


@dataclass(frozen=True, slots=True)
class Throughput:
    side: str  # "API", "floor" or "COPY"
    clients: int
    calls: int
    events: int
    seconds: float
    p50_ms: float  # of one call
    others: float = 0.0  # cores other processes kept busy meanwhile

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"events_per_second": round(self.events_per_second, 1)}


@dataclass(slots=True)
class Tally:
    events: int = 0
    latencies: list[float] = field(default_factory=list)


class Sink(Generic[T]):
    """One side: how a call's events become a unit of work, and a client that sends it."""

    side = ""

    def __init__(self, world: World) -> None:
        self.world = world
        self.closers: list[Callable[[], Awaitable[None]]] = []

    def work(self, batch: list[Event]) -> T:
        raise NotImplementedError

    async def client(self) -> Call[T]:
        raise NotImplementedError

    async def close(self) -> None:
        for closer in self.closers:
            await closer()
        self.closers.clear()


class ApiSink(Sink[bytes]):
    side = "API"

    def __init__(self, world: World, url: str) -> None:
        super().__init__(world)
        self.url = url

    def work(self, batch: list[Event]) -> bytes:
        variables = {"events": [event.api() for event in batch]}
        body = orjson.dumps({"query": INGEST, "variables": variables})
        return http_request(self.url, self.world.key, body)

    async def client(self) -> Call[bytes]:
        parts = urlsplit(self.url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)

        async def close() -> None:
            writer.close()
            await writer.wait_closed()

        self.closers.append(close)

        async def call(request: bytes) -> int:
            writer.write(request)
            status, body, _ = await read_response(reader)
            answer = orjson.loads(body) if status == 200 else {}
            payload = (answer.get("data") or {}).get("ingestUsage") or {}
            if answer.get("errors") or payload.get("userErrors") or payload.get("duplicates"):
                raise RuntimeError(f"ingestUsage answered {status}: {body[:500]!r}")
            accepted: int = payload["accepted"]
            return accepted

        return call


class _PostgresSink(Sink[T]):
    async def connection(self) -> Any:
        connection = await asyncpg.connect(self.world.dsn)
        self.closers.append(connection.close)
        return connection


class FloorSink(_PostgresSink[tuple[list[Any], ...]]):
    side = "floor"

    def work(self, batch: list[Event]) -> tuple[list[Any], ...]:
        now = datetime.now(UTC)
        rows = [event.row(self.world, now) for event in batch]
        return tuple(list(column) for column in zip(*rows, strict=True))

    async def client(self) -> Call[tuple[list[Any], ...]]:
        connection = await self.connection()

        async def call(columns: tuple[list[Any], ...]) -> int:
            status: str = await connection.execute(FLOOR_INSERT, *columns)
            return int(status.rsplit(" ", 1)[1])  # "INSERT 0 <rows>"

        return call


class CopySink(_PostgresSink[list[tuple[Any, ...]]]):
    side = "COPY"

    def work(self, batch: list[Event]) -> list[tuple[Any, ...]]:
        now = datetime.now(UTC)
        return [event.row(self.world, now) for event in batch]

    async def client(self) -> Call[list[tuple[Any, ...]]]:
        connection = await self.connection()

        async def call(rows: list[tuple[Any, ...]]) -> int:
            status: str = await connection.copy_records_to_table(
                "usage_events", records=rows, columns=COLUMNS
            )
            return int(status.rsplit(" ", 1)[1])  # "COPY <rows>"

        return call


async def closed_loop(calls: list[Call[T]], work: list[T], seconds: float) -> tuple[Tally, float]:
    """Clients take calls from one queue until it is empty or `seconds` have passed; the
    tally and the wall time from the first call to the last answer."""
    queue, tally = deque(work), Tally()
    started = time.perf_counter()
    deadline = started + seconds

    async def client(call: Call[T]) -> None:
        while queue and time.perf_counter() < deadline:
            item = queue.popleft()
            sent = time.perf_counter()
            stored = await call(item)  # not `+= await`: that reads the tally before awaiting
            tally.events += stored
            tally.latencies.append(time.perf_counter() - sent)

    await asyncio.gather(*(client(call) for call in calls))
    return tally, time.perf_counter() - started


@dataclass(frozen=True, slots=True)
class Plan:
    """How much work one side gets: `calls` calls of `batch` events, for `clients` clients,
    stopping early after `seconds`; the events go to the ingestion customers."""

    clients: int
    calls: int
    batch: int
    seconds: float
    days: int


def batches(sink: Sink[T], plan: Plan, part: str, count: int) -> list[T]:
    """`count` calls of the plan's part ("warmup" or "measured"): the same events for every
    side, under transaction ids of the side's own."""
    prefix = f"{sink.side.lower()}-{plan.clients}-{part}"
    customers = sorted(sink.world.ingest_pks)
    stream = f"ingest-{plan.clients}-{part}"
    drawn = list(events(count * plan.batch, prefix, customers, plan.days, stream=stream))
    return [sink.work(drawn[n : n + plan.batch]) for n in range(0, len(drawn), plan.batch)]


@dataclass(slots=True)
class _Side:
    sink: Sink[Any]
    work: list[Any]
    calls: list[Call[Any]] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)
    seconds: float = 0.0
    busy_elsewhere: float = 0.0  # core-seconds other processes took during its rounds


async def measure(
    sinks: list[Sink[Any]],
    plan: Plan,
    rounds: int,
    sample: Callable[[], Any],
    others: Callable[[Any, Any], float],
) -> list[Throughput]:
    """Every side warms up (one call per client); then, `rounds` times, each side in turn
    makes its share of the measured calls, so that background load, which comes and goes
    on a shared machine, touches every side alike. `sample` and `others` say how many
    cores other processes kept busy during a share."""
    sides = [_Side(sink, batches(sink, plan, "measured", plan.calls)) for sink in sinks]
    share = -(-plan.calls // rounds)
    try:
        for side in sides:
            side.calls = [await side.sink.client() for _ in range(plan.clients)]
            await closed_loop(side.calls, batches(side.sink, plan, "warmup", plan.clients), 60)
        for number in range(rounds):
            for side in sides:
                part = side.work[number * share : (number + 1) * share]
                if not part or side.seconds >= plan.seconds:
                    continue
                before = sample()
                tally, seconds = await closed_loop(side.calls, part, plan.seconds - side.seconds)
                side.busy_elsewhere += others(before, sample()) * seconds
                side.tally.events += tally.events
                side.tally.latencies += tally.latencies
                side.seconds += seconds
    finally:
        for side in sides:
            await side.sink.close()
    return [
        Throughput(
            side=side.sink.side,
            clients=plan.clients,
            calls=len(side.tally.latencies),
            events=side.tally.events,
            seconds=side.seconds,
            p50_ms=percentile(sorted(side.tally.latencies), 0.5),
            others=side.busy_elsewhere / side.seconds if side.seconds else 0.0,
        )
        for side in sides
    ]


def sinks(world: World, url: str) -> list[Sink[Any]]:
    """The API, the floor and COPY, in the order each round runs them."""
    return [ApiSink(world, url), FloorSink(world), CopySink(world)]
