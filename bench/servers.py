"""The servers under test, each a process of its own on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import HOST, ROOT, SECRET, venv_tool

READY_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    url: str  # the GraphQL endpoint
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# CustomerGraph as served, CustomerGraph with every query on its executor (no direct
# plans: the figures before issue 7's direct lane), and the floor.
CUSTOMERGRAPH, EXECUTOR, FLOOR = "customergraph", "executor", "floor"
EXTRA_ENV = {EXECUTOR: {"DIRECT_READS": "false"}}


def command(name: str, port: int, workers: int = 1, cpus: str | None = None) -> list[str]:
    """`workers` processes each, uvloop and httptools, no access log; with `cpus`, pinned
    to those CPUs (`taskset`, Linux)."""
    pinned = ["taskset", "--cpu-list", cpus] if cpus else []
    if name in (CUSTOMERGRAPH, EXECUTOR):
        serve = ["serve", "--host", HOST, "--port", str(port), "--workers", str(workers)]
        return [*pinned, venv_tool("customergraph"), *serve]
    return [
        *pinned,
        *(sys.executable, "-m", "uvicorn", "bench.floor:app", "--host", HOST, "--port", str(port)),
        *("--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--no-access-log"),
        *("--workers", str(workers)),
    ]


def _wait_ready(server: Server, log: Path) -> None:
    health = server.url.rsplit("/", 1)[0] + "/healthz"
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited at start; see {log}")
        try:
            if httpx.get(health, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not answer {health} in {READY_SECONDS} s; see {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running(
    name: str, database_url: str, log_dir: Path, workers: int = 1, cpus: str | None = None
) -> Iterator[Server]:
    """Start `customergraph serve` (as served, or on its executor) or the floor on
    `database_url`; stop it on the way out."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET,
        "LOG_LEVEL": "warning",
        "RATE_LIMIT_PER_MINUTE": "0",
        **EXTRA_ENV.get(name, {}),
    }
    log = log_dir / f"{name}-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own commands
            command(name, port, workers, cpus),
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(name, f"http://{HOST}:{port}/graphql", process)
    try:
        _wait_ready(server, log)
        yield server
    finally:
        _stop(process)
