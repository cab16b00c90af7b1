"""The load driver: N keep-alive HTTP/1.1 connections posting one document, for a fixed time.

    python -m bench.load --url http://127.0.0.1:8000/graphql --key KEY --query q1 \\
        --connections 32 --seconds 10

Run as a process of its own. Each connection sends its next request as soon as the last
answer is read (closed loop). Answers finished in the first `--warmup` seconds are not
counted; then every answer finished within `--seconds` is, and the run stops by itself.
A non-200 answer or one with `errors` counts as an error, not as a latency. Prints one JSON
object: requests, errors, req/s and p50/p95/p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

import orjson
import uvloop

from bench.common import QUERIES, operation

SLACK_SECONDS = 30  # on top of warm-up and measurement: the hard stop of a stuck run


@dataclass(frozen=True, slots=True)
class LoadResult:
    connections: int
    seconds: float
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoadResult:
        return cls(**{item.name: data[item.name] for item in fields(cls)})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Tally:
    start: float
    stop: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: bytes | None = None


def request_body(query: str, variables: dict[str, Any] | None = None) -> bytes:
    """The POST body of a benchmark query, the same for CustomerGraph and the floor."""
    payload: dict[str, Any] = {"query": operation(query)}
    if variables:
        payload["variables"] = variables
    return orjson.dumps(payload)


def http_request(url: str, key: str, body: bytes) -> bytes:
    parts = urlsplit(url)
    head = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nAccept: application/json\r\n"
        f"Authorization: Bearer {key}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, server closes?) of one HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked, close = 0, False, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value
        elif name == b"connection":
            close = value == b"close"
    if not chunked:
        return status, await reader.readexactly(length), close
    chunks = []
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        chunks.append(await reader.readexactly(size + 2))
    await reader.readuntil(b"\r\n")  # the empty line after the last chunk (no trailers)
    return status, b"".join(chunk[:-2] for chunk in chunks), close


async def connection_loop(host: str, port: int, request: bytes, tally: Tally) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (sent := time.perf_counter()) < tally.stop:
            writer.write(request)
            status, body, close = await read_response(reader)
            done = time.perf_counter()
            if tally.start <= done <= tally.stop:
                if status == 200 and b'"errors"' not in body:
                    tally.latencies.append(done - sent)
                else:
                    tally.errors += 1
                    tally.first_error = tally.first_error or body[:500]
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest rank, in milliseconds."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)] * 1000


async def run(url: str, request: bytes, connections: int, seconds: float, warmup: float) -> Tally:
    parts = urlsplit(url)
    now = time.perf_counter()
    tally = Tally(start=now + warmup, stop=now + warmup + seconds)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    async with asyncio.timeout(warmup + seconds + SLACK_SECONDS):
        await asyncio.gather(
            *(connection_loop(host, port, request, tally) for _ in range(connections))
        )
    return tally


def measure(
    url: str, request: bytes, connections: int, seconds: float, warmup: float
) -> tuple[LoadResult, bytes | None]:
    tally = uvloop.run(run(url, request, connections, seconds, warmup))
    ordered = sorted(tally.latencies)
    result = LoadResult(
        connections=connections,
        seconds=seconds,
        requests=len(ordered),
        errors=tally.errors,
        rps=len(ordered) / seconds,
        p50_ms=percentile(ordered, 0.50),
        p95_ms=percentile(ordered, 0.95),
        p99_ms=percentile(ordered, 0.99),
    )
    return result, tally.first_error


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--url", required=True, help="the GraphQL endpoint, on loopback")
    parser.add_argument("--key", required=True, help="an API key of the tenant")
    parser.add_argument("--query", choices=QUERIES, required=True)
    parser.add_argument("--variables", type=orjson.loads, default=None, help="a JSON object")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args(argv)
    request = http_request(args.url, args.key, request_body(args.query, args.variables))
    result, first_error = measure(args.url, request, args.connections, args.seconds, args.warmup)
    if first_error is not None:
        print(f"{result.errors} errors; the first: {first_error!r}", file=sys.stderr)
    print(orjson.dumps(result.to_dict()).decode())


if __name__ == "__main__":
    main()
