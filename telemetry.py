"""Observability: JSON logs, Prometheus metrics and OpenTelemetry tracing.

Every HTTP request gets a request id (`X-Request-Id`, taken from the client or made) and
one JSON log line with its tenant, GraphQL operation name, duration, SQL statement count
and error codes; the same figures feed the Prometheus metrics served at /metrics.
Tracing is off unless `OTEL_TRACES_EXPORTER` (otlp or console) is set, following
OpenTelemetry's own environment variables (`OTEL_EXPORTER_OTLP_ENDPOINT`, ...).
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

log = logging.getLogger("customergraph.requests")
# Transaction control, and the tenant setting row-level security reads at each BEGIN, are
# not counted as statements: they carry no data a query reads (one round trip each).
TRANSACTION_CONTROL = (
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE",
    "SELECT SET_CONFIG('APP.TENANT_ID'",
)


@dataclass(slots=True)
class RequestInfo:
    """What one request did, filled in as it goes down the road and back."""

    request_id: str
    tenant: str | None = None
    operation: str | None = None
    statements: int = 0
    error_codes: list[str] = field(default_factory=list)


current: ContextVar[RequestInfo | None] = ContextVar("customergraph_request", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        info = current.get()
        if info is not None and "request_id" not in entry:
            entry["request_id"] = info.request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("customergraph")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


class Metrics:
    """The service's Prometheus metrics, in a registry of their own (one per app)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "customergraph_requests", "HTTP requests.", ["method", "path", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "customergraph_request_duration_seconds", "HTTP request latency.", ["path"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )  # fmt: skip
        self.statements = Histogram(
            "customergraph_sql_statements_per_request", "SQL statements per request.",
            buckets=(0, 1, 2, 3, 5, 8, 10, 15, 20, 50), registry=self.registry,
        )  # fmt: skip
        self.errors = Counter(
            "customergraph_graphql_errors", "GraphQL errors by code.", ["code"],
            registry=self.registry,
        )  # fmt: skip
        pool: Any = engine.sync_engine.pool
        connections = Gauge(
            "customergraph_db_pool_connections", "Database pool connections.", ["state"],
            registry=self.registry,
        )  # fmt: skip
        connections.labels("in_use").set_function(lambda: float(_pool_figure(pool, "checkedout")))
        connections.labels("idle").set_function(lambda: float(_pool_figure(pool, "checkedin")))
        event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)
        self.reads = Gauge(
            "customergraph_read_pool_connections",
            "Direct reads' own PostgreSQL connections (models/reads.py).", ["state"],
            registry=self.registry,
        )  # fmt: skip
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._latencies: dict[str, Any] = {}

    def watch(self, reads: Any) -> None:
        """Count the direct reads' statements, and show their pool's connections."""
        reads.observers.append(count_read)
        for state in ("in_use", "idle"):
            self.reads.labels(state).set_function(partial(_read_figure, reads, state))

    def count(self, method: str, path: str, status: int, seconds: float) -> None:
        """One request: its count by method, path and status, its latency by path (the
        labelled children are kept, not looked up again per request)."""
        key = (method, path, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.requests.labels(method, path, str(status))
        counter.inc()
        latency = self._latencies.get(path)
        if latency is None:
            latency = self._latencies[path] = self.latency.labels(path)
        latency.observe(seconds)

    async def endpoint(self, _: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def _read_figure(reads: Any, state: str) -> float:
    return float(reads.connections().get(state, 0))


def _pool_figure(pool: Any, name: str) -> int:
    figure = getattr(pool, name, None)
    return int(figure()) if callable(figure) else 0


def _count_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
    info = current.get()
    if info is not None and not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
        info.statements += 1


class RequestTelemetry:
    """Pure ASGI middleware: request id, one JSON log line, metrics, an optional span."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")[:64]
        # 32 random hex digits, as uuid4().hex gives, without building a UUID.
        info = RequestInfo(given if given.isprintable() and given else os.urandom(16).hex())
        token = current.set(info)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", info.request_id.encode()),
                ]
            await send(message)

        try:
            with _span(scope):
                await self.app(scope, receive, send_with_id)
        finally:
            current.reset(token)
            self._record(scope, info, status, time.perf_counter() - started)

    def _record(self, scope: Scope, info: RequestInfo, status: int, seconds: float) -> None:
        path = scope["path"] if scope["path"] in KNOWN_PATHS else "other"
        self.metrics.count(scope["method"], path, status, seconds)
        if path == "/graphql":
            self.metrics.statements.observe(info.statements)
        for code in info.error_codes:
            self.metrics.errors.labels(code).inc()
        if path in ("/healthz", "/readyz", "/metrics") or not log.isEnabledFor(logging.INFO):
            return
        log.info(
            "request",
            extra={
                "fields": {
                    "request_id": info.request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                    "tenant": info.tenant,
                    "operation": info.operation,
                    "sql_statements": info.statements,
                    "error_codes": info.error_codes,
                }
            },
        )


KNOWN_PATHS = frozenset({"/graphql", "/events", "/healthz", "/readyz", "/metrics"})


class OperationTelemetry(SchemaExtension):
    """Notes the operation name of a GraphQL execution."""

    def on_operation(self) -> Iterator[None]:
        yield
        info = current.get()
        if info is not None:
            info.operation = self.execution_context.operation_name


def note_errors(codes: list[str]) -> None:
    info = current.get()
    if info is not None:
        info.error_codes += codes


def note_tenant(tenant_id: uuid.UUID) -> None:
    info = current.get()
    if info is not None:
        info.tenant = str(tenant_id)


def note_operation(name: str | None) -> None:
    info = current.get()
    if info is not None:
        info.operation = name


def count_read(_sql: str) -> None:
    """A direct read's statement (models/reads.py), counted as the engine's are."""
    info = current.get()
    if info is not None:
        info.statements += 1


# ---------------------------------------------------------------- tracing

_tracer: Any = None


def configure_tracing(exporter: str | None, service_name: str = "customergraph") -> bool:
    """Switch tracing on for `otlp` or `console` (OTEL_TRACES_EXPORTER); off otherwise."""
    global _tracer
    if exporter not in ("otlp", "console"):
        return False
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stdout)))
    trace.set_tracer_provider(provider)
    _tracer = trace.get_tracer("customergraph")
    return True


class _NoSpan:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


_NO_SPAN = _NoSpan()


def operation_span(name: str | None) -> Any:
    """A span for a query the direct lane answers (schema/direct), named as Strawberry's
    operation spans are; a no-op without tracing."""
    if _tracer is None:
        return _NO_SPAN
    return _tracer.start_as_current_span(
        f"GraphQL Query: {name or 'Anonymous Query'}",
        attributes={"graphql.operation.name": name or "", "customergraph.lane": "direct"},
    )


def _span(scope: Scope) -> Any:
    if _tracer is None:
        return _NO_SPAN
    return _tracer.start_as_current_span(
        f"{scope['method']} {scope['path']}",
        attributes={"http.request.method": scope["method"], "url.path": scope["path"]},
    )
