"""The ASGI app: routes, authentication in front of GraphQL, GraphiQL from local files."""

from __future__ import annotations

import gc
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult, SubscriptionExecutionResult

from domain import jsontext
from domain.errors import ApiError, request_error_code
from domain.persisted import PersistedQueries
from models.db import (
    UnitOfWork,
    is_unavailable,
    make_engine,
    make_sessionmaker,
    postgres_connect_args,
)
from models.gate import Gate
from models.reads import ReadPool, make_reads
from ratelimit import Decision, Limiter, RedisLimiter, make_limiter
from resolvers import events, idempotency
from resolvers.auth import (
    Principal,
    find_principal,
    hash_key,
    key_from_headers,
    organization_matches,
    principal_on,
    usable_key,
)
from resolvers.context import Context
from resolvers.events import EventBus
from schema import schema
from schema.direct import DIRECT, DirectLane, Fallback
from settings import Settings, get_settings
from telemetry import (
    Metrics,
    RequestTelemetry,
    configure_tracing,
    note_errors,
    note_operation,
    note_tenant,
    operation_span,
    setup_logging,
)

log = logging.getLogger("customergraph")
STATIC = Path(__file__).resolve().parent / "static" / "graphiql"
MAX_IDEMPOTENCY_KEY = 255
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# A JSON object or array (a batch) starts with `{` or `[` after optional JSON whitespace.
JSON_CONTAINER = re.compile(rb"[ \t\r\n]*[{\[]")
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
GRAPHQL_RESPONSE_JSON_UTF8 = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8".encode()
JSON = b"application/json"


def wants_graphql_response_json(accept: str | None) -> bool:
    """GraphQL over HTTP, Accept: answer with application/graphql-response+json when the
    client lists it with a q at least that of application/json; no Accept header, `*/*` or
    application/json alone keep application/json (the spec's rule for legacy clients)."""
    weights: dict[str, float] = {}
    for part in (accept or "").split(","):
        media, *params = (piece.strip().lower() for piece in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[media] = max(q, weights.get(media, 0.0))
    wanted = weights.get(GRAPHQL_RESPONSE_JSON, 0.0)
    return wanted > 0 and wanted >= weights.get("application/json", 0.0)


def _unavailable(result: ExecutionResult) -> bool:
    """The database could not serve this operation (see schema/errors.py): HTTP 503."""
    return any(
        (error.extensions or {}).get("code") == "SERVICE_UNAVAILABLE"
        for error in result.errors or ()
    )


def is_request_error(result: ExecutionResult) -> bool:
    """A parse, validation or variable-coercion failure: execution never started, so there
    is no data and no error has a response path."""
    errors = result.errors or []
    persisted = any((e.extensions or {}).get("code") == "PERSISTED_QUERY_NOT_FOUND" for e in errors)
    return (
        result.data is None
        and bool(errors)
        and not persisted  # Apollo clients expect it with 200, then send the document
        and all(error.path is None for error in errors)
    )


def error_response(status: int, code: str, message: str, **headers: str) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


class CustomerGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, orjson and the offline GraphiQL page."""

    def __init__(
        self, factory: async_sessionmaker[AsyncSession], settings: Settings, bus: EventBus
    ) -> None:
        super().__init__(schema, subscription_protocols=())
        self.factory = factory
        self.bus = bus
        self.persisted = PersistedQueries()
        self.secret = settings.secret_key.encode()
        self._ide_html = (STATIC / "index.html").read_text()

    @property
    def graphql_ide_html(self) -> str:
        return self._ide_html

    def should_render_graphql_ide(self, request: Any) -> bool:
        """GraphiQL is answered before authentication (GraphQLEndpoint); a GET that reaches
        here is an operation, e.g. a persisted query sent by hash alone."""
        return False

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        return jsontext.loads(data)  # a json.JSONDecodeError keeps Strawberry's 400

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """Strawberry takes any JSON body for an object (or a batch of objects); anything
        else would crash it (HTTP 500), so it is a 400 here. Starlette caches the body."""
        if request.method == "POST" and "application/json" in (request.content_type or ""):
            body = await request.get_body()
            if not JSON_CONTAINER.match(body):
                raise HTTPException(400, "The request body must be a JSON object")
            if body.lstrip()[:1] == b"[":
                operations = self.parse_json(body)
                if not isinstance(operations, list) or not all(
                    isinstance(item, dict) for item in operations
                ):
                    raise HTTPException(400, "A batch must be a list of JSON objects")
        return await super().parse_http_body(request)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Automatic persisted queries first; a mutation sent with GET is 405 Method Not
        Allowed (GraphQL over HTTP), not 400."""
        try:
            request_data.query = self.persisted.resolve(request_data.query, request_data.extensions)
        except ApiError as error:
            failure = GraphQLError(error.message, extensions=error.extensions)
            return ExecutionResult(data=None, errors=[failure])
        try:
            return await super().execute_single(
                request=request,
                request_adapter=request_adapter,
                sub_response=sub_response,
                context=context,
                root_value=root_value,
                request_data=request_data,
            )
        except HTTPException as error:
            if isinstance(error.__cause__, InvalidOperationTypeError):
                raise HTTPException(405, error.reason) from error
            raise

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        """GraphQL over HTTP media types: a client that accepts
        application/graphql-response+json gets it, and a request error (parse, validation,
        variable coercion) is then HTTP 400; application/json keeps 200 for those."""
        result = await super().execute_operation(
            request=request,
            request_adapter=request_adapter,
            request_data=request_data,
            context=context,
            root_value=root_value,
            sub_response=sub_response,
        )
        if wants_graphql_response_json(request.headers.get("accept")):
            sub_response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
            if isinstance(result, ExecutionResult) and is_request_error(result):
                sub_response.status_code = 400
        results = result if isinstance(result, list) else [result]
        if any(_unavailable(item) for item in results if isinstance(item, ExecutionResult)):
            sub_response.status_code = 503
            sub_response.headers["Retry-After"] = "1"
        return result

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """Every error gets a code; with application/graphql-response+json, a request error
        has no `data` entry."""
        for error in result.errors or ():
            extensions = error.extensions or {}
            if not extensions.get("code"):
                has_cause = error.original_error is not None
                code = request_error_code(error.message, bool(error.path), has_cause)
                error.extensions = {**extensions, "code": code}
        note_errors([str((e.extensions or {})["code"]) for e in result.errors or ()])
        response = await super().process_result(request, result)
        if is_request_error(result) and wants_graphql_response_json(request.headers.get("accept")):
            response.pop("data", None)
        return response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        """Strawberry appends the sub-response's headers to its own `application/json`
        content-type; the negotiated one replaces it instead of doubling it."""
        media_type = sub_response.headers.get("content-type")
        response = super().create_response(response_data, sub_response)
        if media_type is not None:
            response.headers["content-type"] = media_type
        return response

    async def get_context(self, request: Any, response: Any) -> Context:
        state = request.scope["state"]
        uow: UnitOfWork = state["uow"]
        return Context(principal=state["principal"], uow=uow, secret=self.secret, bus=self.bus)


def wants_graphiql(scope: Scope) -> bool:
    if scope["method"] != "GET" or b"query=" in scope.get("query_string", b""):
        return False
    accept = dict(scope["headers"]).get(b"accept", b"")
    return b"text/html" in accept


Lookup = Callable[[str | None], Awaitable[Principal | None]]


async def authenticate(
    lookup: Lookup, scope: Scope, limiter: Limiter | None
) -> Principal | Response:
    """The caller's principal, or the 401/403/429/503 response that ends the request."""
    headers = _headers(scope)
    key = key_from_headers(headers.get("authorization"), headers.get("x-api-key"))
    try:
        principal = await lookup(key)
    except Exception as error:
        if not is_unavailable(error):
            raise
        log.warning("database unavailable during authentication: %s", type(error).__name__)
        return unavailable()
    if principal is None:
        return error_response(
            401, "UNAUTHENTICATED", "Invalid API key", **{"WWW-Authenticate": "Bearer"}
        )
    note_tenant(principal.tenant_id)
    if not organization_matches(principal, headers.get("x-organization-id")):
        return error_response(
            403, "FORBIDDEN", "X-Organization-Id does not match the API key's organization"
        )
    if limiter is not None:
        decision = await limiter.take(f"{principal.tenant_id}:{principal.api_key_id}")
        if not decision.allowed:
            return rate_limited(decision)
    return principal


def unavailable() -> Response:
    return error_response(503, "SERVICE_UNAVAILABLE", "Service unavailable", **{"Retry-After": "1"})


def rate_limited(decision: Decision) -> Response:
    extensions = {"code": "RATE_LIMITED", "limit": decision.limit, "window": "minute"}
    body = {"errors": [{"message": "Rate limit exceeded", "extensions": extensions}]}
    headers = {"Retry-After": str(decision.retry_after)}
    return Response(orjson.dumps(body), 429, headers, media_type="application/json")


async def _principal_in(uow: UnitOfWork, key: str | None) -> Principal | None:
    principal = await principal_on(await uow.connection(), key, set_tenant=True)
    if principal is not None:
        uow.set_tenant(principal.tenant_id)
    return principal


class GraphQLEndpoint:
    """Authenticate (401/403 before any GraphQL work), run the operation, end the unit of work.

    A POST the direct lane takes (schema/direct) is answered there, on a connection of the
    read pool whose first statement is the key lookup; one it hands back after
    authenticating goes to the executor with that principal, not authenticated again."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        settings: Settings,
        bus: EventBus,
        limiter: Limiter | None,
        reads: ReadPool | None = None,
    ) -> None:
        self.factory, self.limiter = factory, limiter
        self.graphql = CustomerGraphQL(factory, settings, bus)
        # PostgreSQL's pool is DB_POOL_SIZE connections: requests take them in arrival order
        # (models.db.Gate). SQLite keeps SQLAlchemy's default pool, which DB_POOL_* leave be.
        postgres = not settings.database_url.startswith("sqlite")
        self.gate = (
            Gate(settings.db_pool_size, settings.db_pool_timeout_seconds) if postgres else None
        )
        self.reads = reads
        self.direct = (
            DirectLane(schema, self.graphql.persisted, self.graphql.secret)
            if reads is not None
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if wants_graphiql(scope):
            await HTMLResponse(self.graphql.graphql_ide_html)(scope, receive, send)
            return
        known: Principal | None = None
        headers = _direct_headers(scope) if self.direct is not None and DIRECT.get() else None
        if headers is not None:
            body = await read_body(receive)
            handed = await self._direct(scope, headers, body, send)
            if handed is True:
                return
            known = handed if isinstance(handed, Principal) else None
            receive = replay_body(body)
        # One unit of work, so one connection and one transaction, for the whole request:
        # the API-key lookup is its first statement and sets its tenant.
        uow = UnitOfWork(self.factory, None if known is None else known.tenant_id, self.gate)
        state = scope.setdefault("state", {})
        state["uow"] = uow
        try:
            principal = known or await authenticate(
                partial(_principal_in, uow), scope, self.limiter
            )
            if isinstance(principal, Response):
                await principal(scope, receive, send)
                return
            state["principal"] = principal
            key = dict(scope["headers"]).get(b"idempotency-key")
            if key is not None and scope["method"] == "POST":
                await self._once(key.decode("latin-1"), principal, scope, receive, send)
            else:
                await self.graphql(scope, receive, send)
        finally:
            try:
                await uow.close()
            except Exception as error:
                if not is_unavailable(error):
                    raise
                log.warning("could not close a session: %s", type(error).__name__)

    async def _direct(
        self, scope: Scope, headers: dict[bytes, str], body: bytes, send: Send
    ) -> bool | Principal | None:
        """True when the direct lane answered; else the executor answers, with the
        principal the lane authenticated (and rate-limited) if it got that far."""
        assert self.direct is not None and self.reads is not None
        try:
            prepared = self.direct.prepare(jsontext.loads(body))
        except ValueError:  # not JSON: the executor's 400
            return None
        except Exception as error:  # a planning bug must not fail a request the executor answers
            log.warning("a document could not be planned; the executor answers", exc_info=error)
            return None
        if prepared is None:
            return None
        key = key_from_headers(headers.get(b"authorization"), headers.get(b"x-api-key"))
        if not usable_key(key):
            return None
        principal: Principal | None = None
        try:
            async with self.reads.session(hash_key(key)) as reader:
                if reader is None:
                    return None
                found = reader.key
                principal = Principal(
                    found.tenant_id, found.tenant_name, frozenset(found.scopes), found.id
                )
                note_tenant(principal.tenant_id)
                if not organization_matches(principal, headers.get(b"x-organization-id")):
                    return None
                if self.limiter is not None:
                    decision = await self.limiter.take(f"{principal.tenant_id}:{found.id}")
                    if not decision.allowed:
                        await rate_limited(decision)(scope, _no_body, send)
                        return True
                if not prepared.plan.scopes <= principal.scopes:
                    return principal
                note_operation(prepared.operation)
                with operation_span(prepared.operation):
                    answer = await self.direct.run(prepared, reader, self.reads.dialect)
        except (Fallback, ApiError, GraphQLError):  # what the executor answers with errors
            return principal
        except Exception as error:
            if is_unavailable(error):
                log.warning("database unavailable for a direct read: %s", type(error).__name__)
                await unavailable()(scope, _no_body, send)
                return True
            log.warning("a direct plan failed; the executor answers", exc_info=error)
            return principal
        media = response_media_type(headers.get(b"accept"))
        start = {"type": "http.response.start", "status": 200}
        start["headers"] = [
            (b"content-length", str(len(answer)).encode()),
            (b"content-type", media),
        ]
        await send(start)
        await send({"type": "http.response.body", "body": answer})
        return True

    async def _once(
        self, key: str, principal: Principal, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Idempotency-Key: run once, replay the stored response, or refuse (409)."""
        if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY or not key.isprintable():
            message = f"Idempotency-Key is 1 to {MAX_IDEMPOTENCY_KEY} printable characters"
            await error_response(400, "BAD_USER_INPUT", message)(scope, receive, send)
            return
        body = await read_body(receive)
        # The claim waits on other connections: the request's own goes back to the pool first.
        await scope["state"]["uow"].release()
        claimed = await idempotency.claim(self.factory, principal.tenant_id, key, body)
        if claimed.outcome == "reused":
            message = "This Idempotency-Key was used with another request body"
            await error_response(409, "IDEMPOTENCY_KEY_REUSED", message)(scope, receive, send)
        elif claimed.outcome == "busy":
            message = "A request with this Idempotency-Key is still running"
            await error_response(409, "IDEMPOTENCY_KEY_IN_USE", message)(scope, receive, send)
        elif claimed.outcome == "replay":
            headers = {"Idempotent-Replayed": "true"}
            replay = Response(claimed.body, claimed.status or 200, headers, claimed.content_type)
            await replay(scope, receive, send)
        else:
            capture = Capture(send)
            status, content_type, answer = 500, None, b""
            try:
                await self.graphql(scope, replay_body(body), capture)
                status, content_type, answer = capture.status, capture.content_type, capture.body
            finally:
                await idempotency.finish(
                    self.factory, principal.tenant_id, claimed, status, content_type, answer
                )


DIRECT_HEADERS = frozenset(
    {b"authorization", b"x-api-key", b"x-organization-id", b"accept", b"content-type"}
)


def _direct_headers(scope: Scope) -> dict[bytes, str] | None:
    """The headers the direct lane reads, for a JSON POST without an Idempotency-Key (one
    the lane may answer); None for any other request."""
    if scope["method"] != "POST":
        return None
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in DIRECT_HEADERS:
            found[name] = value.decode("latin-1")
        elif name == b"idempotency-key":
            return None
    if "application/json" not in found.get(b"content-type", ""):
        return None
    return found


_media_types: dict[str | None, bytes] = {}


def response_media_type(accept: str | None) -> bytes:
    """The Content-Type of a GraphQL answer to a client sending this Accept header."""
    known = _media_types.get(accept)
    if known is None:
        known = GRAPHQL_RESPONSE_JSON_UTF8 if wants_graphql_response_json(accept) else JSON
        if len(_media_types) < 256:
            _media_types[accept] = known
    return known


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def replay_body(body: bytes) -> Receive:
    """A receive channel that hands the already-read body to the app once."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


class Capture:
    """Forwards a response to the client and keeps a copy of it."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 500
        self.content_type: str | None = None
        self.chunks: list[bytes] = []

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            headers = dict(message.get("headers", []))
            self.content_type = headers.get(b"content-type", b"").decode("latin-1") or None
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
        await self.send(message)


class EventsEndpoint:
    """GET /events: the tenant's customer events as server-sent events (API.md, Real-time)."""

    def __init__(
        self, factory: async_sessionmaker[AsyncSession], bus: EventBus, limiter: Limiter | None
    ) -> None:
        self.factory, self.bus, self.limiter = factory, bus, limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lookup = partial(find_principal, self.factory.kw["bind"])
        principal = await authenticate(lookup, scope, self.limiter)
        if isinstance(principal, Response):
            await principal(scope, receive, send)
            return
        request = Request(scope)
        response: Response
        try:
            principal.require("read:customers")
            customer_id = events.customer_filter(request.query_params.get("customerId"))
            after = events.resume_after(
                request.headers.get("last-event-id") or request.query_params.get("lastEventId")
            )
            if after is None:
                after = await events.latest_id(self.factory, principal)
        except ApiError as error:
            status = 403 if error.code == "FORBIDDEN" else 400
            body = {"errors": [{"message": error.message, "extensions": error.extensions}]}
            response = Response(orjson.dumps(body), status, media_type="application/json")
        else:
            stream = events.stream(self.factory, self.bus, principal, after, customer_id)
            response = StreamingResponse(
                stream, media_type="text/event-stream", headers=SSE_HEADERS
            )
        await response(scope, receive, send)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    setup_logging(settings.log_level)
    configure_tracing(settings.otel_traces_exporter)
    engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        role=settings.database_app_role or None,
        pool_timeout=settings.db_pool_timeout_seconds,
    )
    factory = make_sessionmaker(engine)
    reads = (
        make_reads(
            engine,
            pool_size=settings.db_pool_size,
            pool_timeout=settings.db_pool_timeout_seconds,
            connect_options=postgres_connect_args(
                settings.db_statement_timeout_ms, settings.database_app_role or None
            ),
        )
        if settings.direct_reads
        else None
    )

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as error:
            if not is_unavailable(error):
                raise
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        return JSONResponse({"status": "ready", "database": "ok"})

    bus = EventBus()

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bus.listen(settings.database_url)
        # What start-up built lives as long as the process: out of the collector's sight
        # (gc.freeze), and young collections every 10,000 allocations instead of 700, so a
        # 2,000-field answer is not interrupted by a dozen collections (bench/README.md).
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 20, 20)
        yield
        await bus.close()
        if isinstance(limiter, RedisLimiter):
            await limiter.close()
        if reads is not None:
            await reads.close()
        await engine.dispose()

    limiter = make_limiter(settings.rate_limit_per_minute, settings.redis_url)
    graphql = GraphQLEndpoint(factory, settings, bus, limiter, reads)
    metrics = Metrics(engine)
    if reads is not None:
        metrics.watch(reads)
    app = Starlette(
        routes=[
            # /graphql first: routes are matched in order, and nearly every request is one.
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics.endpoint),
            Mount("/graphql/static", StaticFiles(directory=STATIC)),
            Route("/events", EventsEndpoint(factory, bus, limiter), methods=["GET"]),
        ],
        lifespan=lifespan,
        middleware=[Middleware(RequestTelemetry, metrics=metrics)],
    )
    app.state.engine = engine
    app.state.reads = reads
    app.state.session_factory = factory
    app.state.bus = bus
    return app
