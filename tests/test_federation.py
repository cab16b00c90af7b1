"""Federation through a real Apollo Gateway (tests/federation/), on both database backends.

The gateway composes CustomerGraph (the `live_server` process) with a small support-tickets
subgraph that extends `Customer @key(fields: "id")`, then answers queries that join both:
CustomerGraph's customers with their tickets, and tickets with their CustomerGraph
customers. The gateway logs every subgraph request on stdout, so the tests can count the
`_entities` requests it makes: 100 customers resolve in one.

Needs Node.js and npm: without them these tests skip, unless CI or
CUSTOMERGRAPH_REQUIRE_SERVICES=1 is set, when they fail. `npm ci` runs once, when
tests/federation/node_modules is missing or was installed from another lock.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import LiveServer, TenantHandle, make_tenant
from graphql import FieldDefinitionNode, ObjectTypeDefinitionNode, parse, print_ast
from helpers import create_customer_batch
from starlette.applications import Starlette

HARNESS = Path(__file__).resolve().parent / "federation"
INSTALL_STAMP = HARNESS / "node_modules" / ".customergraph-install.sha256"
NPM_CI_TIMEOUT = 600
READY_TIMEOUT = 60
SDL_TIMEOUT = 40  # the gateway's bound on fetching the SDLs, inside READY_TIMEOUT
STOP_TIMEOUT = 10
FETCH_PREFIX = "SUBGRAPH FETCH "

# The support subgraph's tickets, as support-subgraph.mjs derives them from a customer id.
SUBJECTS = ("Cannot log in", "Invoice question", "Usage spike", "Feature request")

CUSTOMERS_WITH_TICKETS = """
query CustomersWithTickets($first: Int!) {
  customers(first: $first) { nodes { id displayName supportTickets { id subject } } }
}
"""
TICKETS_WITH_CUSTOMERS = """
query TicketsWithCustomers($ids: [ID!]!) {
  tickets(customerIds: $ids) { id subject customer { id displayName } }
}
"""
ONE_TICKET = """
query OneTicket($id: ID!) { ticket(id: $id) { id customer { id displayName } } }
"""
FIRST_CUSTOMER = "query FirstCustomer { customers(first: 1) { nodes { id displayName } } }"

_running: set[subprocess.Popen[bytes]] = set()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate, then kill after STOP_TIMEOUT seconds; always reap."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
    _running.discard(process)


@atexit.register
def _stop_all() -> None:
    """Should a fixture's finally not run (an interpreter exit mid-setup), still end them."""
    for process in list(_running):
        _stop(process)


def expected_tickets(customer_id: str) -> list[dict[str, str]]:
    """`ticketsFor` of support-subgraph.mjs: 1 + seed % 3 tickets, seed = sum of UTF-8 bytes."""
    seed = sum(customer_id.encode())
    return [
        {"id": f"{customer_id}~{n}", "subject": SUBJECTS[(seed + n) % len(SUBJECTS)]}
        for n in range(1, 2 + seed % 3)
    ]


def _services_required() -> bool:
    ci = os.environ.get("CI", "").strip().lower()
    return ci not in ("", "0", "false", "no") or (
        os.environ.get("CUSTOMERGRAPH_REQUIRE_SERVICES") == "1"
    )


def _install_digest() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((HARNESS / name).read_bytes())
    return digest.hexdigest()


def _path_digest(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()[:16]


def _npm_ci_when_needed(npm: str) -> None:
    """`npm ci` unless node_modules holds an install of this package.json and lock."""
    digest = _install_digest()
    if INSTALL_STAMP.exists() and INSTALL_STAMP.read_text().strip() == digest:
        return
    try:
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HARNESS,
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"npm ci in {HARNESS} took more than {NPM_CI_TIMEOUT} s")
    if result.returncode != 0:
        pytest.fail(f"npm ci failed in {HARNESS}:\n{result.stdout}\n{result.stderr}")
    INSTALL_STAMP.write_text(digest + "\n")


@pytest.fixture(scope="session")
def node_executable() -> str:
    """The `node` executable, with the harness's packages installed (`npm ci`, when needed)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        message = "Node.js and npm are needed for the federation tests (tests/federation/)"
        if _services_required():
            pytest.fail(f"{message}, and CI or CUSTOMERGRAPH_REQUIRE_SERVICES=1 is set")
        pytest.skip(message)
    # One `npm ci` at a time, should several test runs share this work tree.
    lock = Path(tempfile.gettempdir()) / f"customergraph-npm-{_path_digest(HARNESS)}.lock"
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        _npm_ci_when_needed(npm)
    return node


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            argv, cwd=HARNESS, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    _running.add(process)
    return process


def _wait_ready(process: subprocess.Popen[bytes], log: Path, ready: str) -> str:
    """The URL on the `ready` line of the log; fails when the process exits or is too slow."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith(ready):
                return line.removeprefix(ready).strip()
        if process.poll() is not None:
            break
        time.sleep(0.1)
    _stop(process)
    pytest.fail(f"{log.name}: no {ready.strip()!r} line in {READY_TIMEOUT} s:\n{log.read_text()}")


@dataclass(frozen=True)
class Fetch:
    """One request the gateway sent to a subgraph; `entities`: representations, or None."""

    subgraph: str
    entities: int | None


@dataclass
class Gateway:
    url: str
    log: Path
    supergraph: Path

    def mark(self) -> int:
        """Where the log ends now: `fetches(since=mark)` lists what came after."""
        return self.log.stat().st_size

    def fetches(self, since: int) -> list[Fetch]:
        with self.log.open("rb") as log:
            log.seek(since)
            lines = log.read().decode().splitlines()
        found = []
        for line in lines:
            if line.startswith(FETCH_PREFIX):
                fetch = json.loads(line.removeprefix(FETCH_PREFIX))
                found.append(Fetch(fetch["subgraph"], fetch["entities"]))
        return found

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, key: str | None = None
    ) -> httpx.Response:
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        return await self.post_with(query, variables, headers)

    async def post_with(
        self, query: str, variables: dict[str, Any] | None, headers: dict[str, str]
    ) -> httpx.Response:
        body: dict[str, Any] = {"query": query, "variables": variables or {}}
        async with httpx.AsyncClient(timeout=30) as http:
            return await http.post(self.url, json=body, headers=headers)

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, key: str | None = None
    ) -> dict[str, Any]:
        response = await self.post(query, variables, key)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, key: str | None = None
    ) -> dict[str, Any]:
        body = await self.gql(query, variables, key)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


@pytest.fixture(scope="session")
async def sdl_key(app: Starlette, client: httpx.AsyncClient) -> str:
    """The key the gateway fetches CustomerGraph's SDL with (a tenant of its own)."""
    return (await make_tenant(app, client)).key


@pytest.fixture(scope="session")
def gateway(
    node_executable: str,
    live_server: LiveServer,
    sdl_key: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    """The support subgraph and the gateway, started once per backend and always stopped."""
    logs = tmp_path_factory.mktemp("federation")
    env = dict(os.environ)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        support_log = logs / "support.log"
        support = _start([node_executable, "support-subgraph.mjs", "--port", "0"], env, support_log)
        processes.append(support)
        support_url = _wait_ready(support, support_log, "SUPPORT SUBGRAPH READY ")
        gateway_log, supergraph = logs / "gateway.log", logs / "supergraph.graphql"
        argv = [
            node_executable,
            "gateway.mjs",
            "--port",
            "0",
            "--customergraph-url",
            f"{live_server.url}/graphql",
            "--support-url",
            support_url,
            "--supergraph-out",
            str(supergraph),
            "--sdl-timeout",
            str(SDL_TIMEOUT),
        ]
        gateway = _start(argv, {**env, "CUSTOMERGRAPH_API_KEY": sdl_key}, gateway_log)
        processes.append(gateway)
        url = _wait_ready(gateway, gateway_log, "GATEWAY READY ")
        yield Gateway(url, gateway_log, supergraph)
    finally:
        for process in reversed(processes):
            _stop(process)


async def _tenant_with_customers(
    app: Starlette, client: httpx.AsyncClient, count: int
) -> tuple[TenantHandle, list[dict[str, Any]]]:
    tenant = await make_tenant(app, client)
    inputs = [{"displayName": f"Federated {n:03d}"} for n in range(count)]
    return tenant, await create_customer_batch(tenant.api, inputs)


# ---------------------------------------------------------------- composition


def _directives(node: ObjectTypeDefinitionNode | FieldDefinitionNode, name: str) -> list[str]:
    """The arguments of each `@name` on a definition, printed, e.g. `graph: SUPPORT, key: "id"`."""
    return [
        ", ".join(f"{a.name.value}: {print_ast(a.value)}" for a in directive.arguments or ())
        for directive in node.directives or ()
        if directive.name.value == name
    ]


def test_supergraph_joins_customer_across_both_subgraphs(gateway: Gateway) -> None:
    supergraph = parse(gateway.supergraph.read_text())
    types = {
        definition.name.value: definition
        for definition in supergraph.definitions
        if isinstance(definition, ObjectTypeDefinitionNode)
    }
    customer = types["Customer"]
    assert _directives(customer, "join__type") == [
        'graph: CUSTOMERGRAPH, key: "id"',
        'graph: SUPPORT, key: "id"',
    ]
    fields = {field.name.value: field for field in customer.fields or ()}
    assert _directives(fields["supportTickets"], "join__field") == ["graph: SUPPORT"]
    assert _directives(fields["displayName"], "join__field") == ["graph: CUSTOMERGRAPH"]
    assert _directives(types["SupportTicket"], "join__type") == ["graph: SUPPORT"]


# ---------------------------------------------------------------- (a) one query, two subgraphs


async def test_query_joins_customers_and_their_tickets(
    gateway: Gateway, app: Starlette, client: httpx.AsyncClient
) -> None:
    tenant, created = await _tenant_with_customers(app, client, 5)
    mark = gateway.mark()
    data = await gateway.data(CUSTOMERS_WITH_TICKETS, {"first": 5}, tenant.key)
    nodes = data["customers"]["nodes"]
    assert {node["id"]: node["displayName"] for node in nodes} == {
        customer["id"]: customer["displayName"] for customer in created
    }
    for node in nodes:
        assert node["supportTickets"] == expected_tickets(node["id"])
    assert gateway.fetches(mark) == [Fetch("customergraph", None), Fetch("support", 5)]


async def test_api_key_header_is_forwarded_too(
    gateway: Gateway, app: Starlette, client: httpx.AsyncClient
) -> None:
    tenant, created = await _tenant_with_customers(app, client, 1)
    response = await gateway.post_with(FIRST_CUSTOMER, None, {"X-Api-Key": tenant.key})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "data": {"customers": {"nodes": [{"id": created[0]["id"], "displayName": "Federated 000"}]}}
    }


# ---------------------------------------------------------------- (b) 100 entities, one request


async def test_hundred_customers_get_their_tickets_in_one_entities_request(
    gateway: Gateway, app: Starlette, client: httpx.AsyncClient
) -> None:
    tenant, created = await _tenant_with_customers(app, client, 100)
    query = "query Hundred { customers(first: 100) { nodes { id supportTickets { id } } } }"
    mark = gateway.mark()
    data = await gateway.data(query, key=tenant.key)
    nodes = data["customers"]["nodes"]
    assert sorted(node["id"] for node in nodes) == sorted(c["id"] for c in created)
    for node in nodes:
        assert node["supportTickets"] == [
            {"id": ticket["id"]} for ticket in expected_tickets(node["id"])
        ]
    assert gateway.fetches(mark) == [Fetch("customergraph", None), Fetch("support", 100)]


async def test_tickets_of_hundred_customers_resolve_them_in_one_entities_request(
    gateway: Gateway, app: Starlette, client: httpx.AsyncClient
) -> None:
    tenant, created = await _tenant_with_customers(app, client, 100)
    ids = [customer["id"] for customer in created]
    names = {customer["id"]: customer["displayName"] for customer in created}
    mark = gateway.mark()
    data = await gateway.data(TICKETS_WITH_CUSTOMERS, {"ids": ids}, tenant.key)
    tickets = data["tickets"]
    expected = [ticket for customer_id in ids for ticket in expected_tickets(customer_id)]
    assert [{"id": t["id"], "subject": t["subject"]} for t in tickets] == expected
    for ticket in tickets:
        customer_id = ticket["id"].rsplit("~", 1)[0]
        assert ticket["customer"] == {"id": customer_id, "displayName": names[customer_id]}
    assert {ticket["customer"]["id"] for ticket in tickets} == set(ids)
    # The gateway does not deduplicate representations: one per ticket, in one request.
    assert gateway.fetches(mark) == [Fetch("support", None), Fetch("customergraph", len(tickets))]


# ---------------------------------------------------------------- (c) tenancy and authentication


async def test_other_tenants_customers_resolve_to_null(
    gateway: Gateway, app: Starlette, client: httpx.AsyncClient
) -> None:
    owner, created = await _tenant_with_customers(app, client, 3)
    stranger, foreign = await _tenant_with_customers(app, client, 1)
    ids = [customer["id"] for customer in created]

    body = await gateway.gql(TICKETS_WITH_CUSTOMERS, {"ids": ids}, stranger.key)
    tickets = body["data"]["tickets"]
    assert [t["id"] for t in tickets] == [t["id"] for i in ids for t in expected_tickets(i)]
    assert [ticket["customer"] for ticket in tickets] == [None] * len(tickets)
    assert "errors" not in body, body["errors"]

    ticket_id = expected_tickets(ids[0])[0]["id"]
    single = await gateway.gql(ONE_TICKET, {"id": ticket_id}, stranger.key)
    assert single["data"] == {"ticket": {"id": ticket_id, "customer": None}}

    mine = await gateway.data(ONE_TICKET, {"id": ticket_id}, owner.key)
    assert mine["ticket"]["customer"] == {"id": ids[0], "displayName": "Federated 000"}

    mixed = await gateway.gql(
        TICKETS_WITH_CUSTOMERS, {"ids": [ids[0], foreign[0]["id"]]}, owner.key
    )
    customers = {t["id"].rsplit("~", 1)[0]: t["customer"] for t in mixed["data"]["tickets"]}
    assert customers == {
        ids[0]: {"id": ids[0], "displayName": "Federated 000"},
        foreign[0]["id"]: None,
    }


async def test_without_a_key_the_gateway_carries_unauthenticated(gateway: Gateway) -> None:
    response = await gateway.post(FIRST_CUSTOMER)
    body = response.json()
    assert body.get("data") is None, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED", error
    # RemoteGraphQLDataSource turns CustomerGraph's HTTP 401 into the error and keeps its body.
    assert error["extensions"]["response"]["status"] == 401
    assert error["extensions"]["response"]["body"] == {
        "errors": [{"message": "Invalid API key", "extensions": {"code": "UNAUTHENTICATED"}}]
    }


async def test_a_wrong_key_is_unauthenticated_through_the_gateway(gateway: Gateway) -> None:
    body = (await gateway.post(FIRST_CUSTOMER, key="cg_not-a-real-key")).json()
    assert body.get("data") is None, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


async def test_entities_without_a_key_are_unauthenticated(
    gateway: Gateway, app: Starlette, client: httpx.AsyncClient
) -> None:
    _, created = await _tenant_with_customers(app, client, 1)
    customer_id = created[0]["id"]
    body = (await gateway.post(TICKETS_WITH_CUSTOMERS, {"ids": [customer_id]})).json()
    # The support subgraph answers; the `_entities` request to CustomerGraph gets a 401.
    assert [error["extensions"]["code"] for error in body["errors"]] == ["UNAUTHENTICATED"]
    assert body["data"] == {
        "tickets": [
            {"id": ticket["id"], "subject": ticket["subject"], "customer": None}
            for ticket in expected_tickets(customer_id)
        ]
    }
