"""Direct plans (schema/direct) answer exactly as the executor does.

Every query runs three ways against the same data: through the direct lane, through the
executor's compiled plans, and through Strawberry's executor. The three HTTP bodies must be
equal (data, extensions, and errors with their messages, paths and locations), and the
direct run must make no more SQL statements than the compiled one. A spy tells which
requests the lane answered: the covered shapes must be answered there, everything else
(fields it does not plan, arguments a resolver refuses) must be handed to the executor
without a warning.

The documents are every operation in tests/operations/, hand-written corners (aliases,
fragments, `__typename` at every level, directives, every pagination argument at the root
and nested, orders, filters, nulls, IDs of other types and tenants) and hypothesis-
generated selections over every field the direct planner covers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from conftest import OPERATIONS, TEST_SECRET, TenantHandle, count_statements
from graphql import (
    GraphQLEnumType,
    GraphQLObjectType,
    GraphQLScalarType,
    OperationDefinitionNode,
    OperationType,
    get_named_type,
    parse,
)
from helpers import canonical, create_customer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from seed import Seeded, seed_graph

from app import create_app
from models.reads import Reader
from schema import schema as strawberry_schema
from schema.direct import DIRECT, DirectLane, Prepared
from schema.direct.tables import TABLES, VALUES
from schema.execution import COMPILED
from schema.execution.plan import DEFINITION
from settings import Settings

GRAPHQL_SCHEMA = strawberry_schema._schema


@contextmanager
def direct_answers() -> Iterator[list[int]]:
    """Counts the requests the direct lane answered (its `run` returned a body)."""
    answered: list[int] = []
    original = DirectLane.run

    async def spy(self: DirectLane, prepared: Prepared, reader: Reader, dialect: Any) -> bytes:
        body = await original(self, prepared, reader, dialect)
        answered.append(1)
        return body

    DirectLane.run = spy  # type: ignore[method-assign]
    try:
        yield answered
    finally:
        DirectLane.run = original  # type: ignore[method-assign]


async def three_ways(
    tenant: TenantHandle,
    query: str,
    variables: dict[str, Any] | None = None,
    direct: bool = True,
    caplog: pytest.LogCaptureFixture | None = None,
) -> dict[str, Any]:
    """The body of `query`, asserted equal through the lane, the compiled executor and
    Strawberry's; `direct`: whether the lane must have answered it."""
    bodies, counts = [], []
    for lane, compiled in ((True, True), (False, True), (False, False)):
        tokens = DIRECT.set(lane), COMPILED.set(compiled)
        try:
            with direct_answers() as answered, count_statements(tenant.app) as statements:
                body = await tenant.api.full(query, variables)
        finally:
            DIRECT.reset(tokens[0])
            COMPILED.reset(tokens[1])
        if lane:
            assert len(answered) == (1 if direct else 0), (query, variables, body)
        bodies.append(canonical(body))
        counts.append(len(statements))
    assert bodies[0] == bodies[1] == bodies[2], (query, variables)
    if direct:
        assert counts[0] <= counts[1], (query, counts)
    if caplog is not None:
        failures = [r for r in caplog.records if "direct plan failed" in r.getMessage()]
        assert not failures, failures
    return bodies[0]


@pytest.fixture
async def graph(tenant: TenantHandle) -> Seeded:
    seeded = await seed_graph(tenant.app, tenant.id, 5, per_customer=4)
    await create_customer(
        tenant.api,
        displayName="Ünïcode & Co",
        handle="acme",
        externalId="ACME-1",
        accountType="INDIVIDUAL",
        countryCode="DE",
        email=None,
        phone="+49 30 1234",
        ingestAliases=["acme-alias", "Acme-2"],
        customFields=[{"key": "tier", "value": "gold"}, {"key": "a", "value": ""}],
        config={"salesforceAccountId": "SF-1", "leaveStripeInvoicesInDraft": True},
    )
    return seeded


def customer_id(graph: Seeded, index: int = 0) -> str:
    return graph.ids("Customer", graph.customers)[index]


# ------------------------------------------------------------------- shared operations


@pytest.mark.parametrize("path", sorted(OPERATIONS.glob("*.graphql")), ids=lambda p: p.stem)
async def test_every_shared_operation(tenant: TenantHandle, graph: Seeded, path: Any) -> None:
    """The bench documents are answered directly; the others at least answer the same."""
    document = parse(path.read_text())
    wanted = {"id": customer_id(graph), "first": 3}
    for definition in document.definitions:
        if not (
            isinstance(definition, OperationDefinitionNode)
            and definition.operation is OperationType.QUERY
        ):
            continue
        names = {v.variable.name.value for v in definition.variable_definitions or ()}
        variables = {name: wanted[name] for name in names}
        direct = path.stem.startswith("Bench") or path.stem == "ReadmeExample"
        body = await three_ways(tenant, path.read_text(), variables, direct=direct)
        assert body.get("data") is not None and "errors" not in body


# ------------------------------------------------------------------- corners

CUSTOMER = "id displayName email handle externalId accountType companyName phone version"
CORNERS: dict[str, str] = {
    "aliases and merged fields": """
        query { a: customers(first: 2) { nodes { id x: displayName id } nodes { email } }
                b: customers(first: 1, orderBy: {field: DISPLAY_NAME, direction: DESC}) {
                    totalCount edges { cursor node { email } } pageInfo { startCursor } } }""",
    "typename everywhere": """
        query { __typename customers(first: 2) { __typename
            edges { __typename cursor node { __typename id } }
            pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }
            nodes { __typename subscriptions(first: 1) { __typename nodes { __typename }
                                                          pageInfo { __typename } } } } }""",
    "fragments and type conditions": """
        query($id: ID!) {
          customer(id: $id) { ...Named ... on Node { id } ... on Customer { version } }
          customers(first: 2) { ...Page nodes { ...Named } } }
        fragment Named on Customer { displayName handle accountType isArchived }
        fragment Page on CustomerConnection { pageInfo { hasNextPage hasPreviousPage } }""",
    "directives": """
        query($yes: Boolean!, $no: Boolean!) {
          customers(first: 2) {
            nodes { id @skip(if: $yes) email @include(if: $yes) handle @include(if: false)
                    ... on Customer @skip(if: $no) { version }
                    subscriptions(first: 1) @include(if: $no) { nodes { id } } }
            totalCount @skip(if: true) } }""",
    "every scalar of the three types": f"""
        query($id: ID!) {{ customer(id: $id) {{ {CUSTOMER} firstName lastName countryCode
            currency locale timezone industry description runbook stripeCustomerId createdAt
            updatedAt archivedAt isArchived
          subscriptions(first: 3) {{ nodes {{ id status startedAt endsAt canceledAt createdAt
                                               updatedAt }} }}
          instances(first: 3) {{ nodes {{ id name status region createdAt updatedAt }} }} }} }}""",
    "nested pages, filters, counts and cursors": """
        query { customers(first: 3) { nodes {
          subscriptions(first: 2) { totalCount pageInfo { hasNextPage hasPreviousPage
                                                          startCursor endCursor }
                                    edges { cursor node { id status startedAt } } }
          active: subscriptions(status: [ACTIVE, TRIALING, ACTIVE]) { totalCount nodes { status } }
          none: subscriptions(status: []) { totalCount nodes { id } }
          lastOnes: instances(last: 2) { pageInfo { hasNextPage hasPreviousPage }
                                         edges { cursor node { name } } }
          running: instances(first: 1, status: [RUNNING]) { totalCount nodes { name } } } } }""",
    "the same child twice makes one statement": """
        query { customers(first: 3) { nodes {
          a: subscriptions(first: 2) { nodes { id } }
          b: subscriptions(first: 2) { nodes { status startedAt } } } } }""",
    "root pages backward and in every order": """
        query { a: customers(last: 2) { nodes { id } pageInfo { hasNextPage hasPreviousPage } }
                b: customers(first: 2, orderBy: {field: EMAIL, direction: ASC}) {
                    edges { cursor } }
                c: customers(first: 2, orderBy: {field: UPDATED_AT, direction: DESC}) {
                    pageInfo { endCursor } }
                d: customers(first: 2, orderBy: {field: CREATED_AT, direction: ASC}) {
                    nodes { displayName } pageInfo { endCursor } }
                e: customers(first: 0) { totalCount nodes { id } pageInfo { endCursor } }
                f: customers(archived: ALL, first: 10) { totalCount nodes { isArchived } } }""",
    "filters, search and ids": """
        query($ids: [ID!]) {
          a: customers(first: 5, filter: "account_type = 'individual' OR country_code = 'DE'") {
               totalCount nodes { displayName } }
          b: customers(first: 5, search: "customer-000") { nodes { displayName } }
          c: customers(ids: $ids) { totalCount nodes { id } }
          d: customers(first: 5, filter: "display_name : \\"*co*\\"") {
               nodes { displayName } } }""",
    "customers by id: several, repeated, missing, of another type": """
        query($id: ID!, $other: ID!, $sub: ID!) {
          a: customer(id: $id) { id displayName }
          b: customer(id: $other) { id email }
          c: customer(id: $id) { version }
          d: customer(id: $sub) { id }
          e: customer(id: "Q3VzdG9tZXI6OTk5OTk5OTk") { id } }""",
    "viewer": """
        query { viewer { __typename scopes tenant { __typename id name } }
                v: viewer { s: scopes } }""",
    "customers by handle, externalId and ingest alias": """
        query { a: customer(handle: "ACME") { id handle ingestAliases }
                b: customer(externalId: "acme-1") { id externalId }
                c: customer(ingestAlias: "ACME-ALIAS") { id displayName }
                d: customer(handle: "nobody") { id }
                e: customer(ingestAlias: "nobody") { id } }""",
    "counts, aliases and small objects": """
        query($id: ID!) {
          customers(first: 10) { nodes { id ingestAliases subscriptionCount
            activeSubscriptionCount latestSubscriptionStatus instanceCount runningInstanceCount
            customFields { __typename key value } config { salesforceAccountId
            leaveStripeInvoicesInDraft } billableStatus { value effectiveAt }
            n: subscriptionCount a: ingestAliases f: customFields { k: key } } }
          customer(id: $id) { ingestAliases subscriptionCount latestSubscriptionStatus
            billableStatus { __typename value } } }""",
    "variables with defaults and nulls": """
        query($first: Int = 2, $after: String, $order: CustomerOrder,
              $status: [SubscriptionStatus!]) {
          customers(first: $first, after: $after, orderBy: $order) {
            nodes { id subscriptions(first: $first, status: $status) { nodes { status } } } } }""",
}


def corner_variables(graph: Seeded) -> dict[str, Any]:
    return {
        "id": customer_id(graph),
        "other": customer_id(graph, 3),
        "sub": graph.ids("Subscription", graph.subscriptions)[0],
        "ids": [
            customer_id(graph, 1),
            customer_id(graph, 2),
            graph.ids("Subscription", graph.subscriptions)[0],  # another type's: not found
        ],
        "yes": True,
        "no": False,
    }


@pytest.mark.parametrize("name", sorted(CORNERS))
async def test_corners(
    tenant: TenantHandle, graph: Seeded, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    document = parse(CORNERS[name])
    used = {
        v.variable.name.value
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
        for v in d.variable_definitions or ()
    }
    variables = {k: v for k, v in corner_variables(graph).items() if k in used}
    body = await three_ways(tenant, CORNERS[name], variables, caplog=caplog)
    assert "errors" not in body


async def test_pages_forward_with_cursors_at_the_root_and_nested(
    tenant: TenantHandle, graph: Seeded
) -> None:
    query = """query($after: String, $nested: String) { customers(first: 2, after: $after) {
        pageInfo { endCursor hasNextPage hasPreviousPage }
        nodes { id subscriptions(first: 1, after: $nested) { edges { cursor node { id } } } } } }"""
    first = await three_ways(tenant, query, {"after": None, "nested": None})
    page = first["data"]["customers"]
    cursor = page["pageInfo"]["endCursor"]
    nested = page["nodes"][-1]["subscriptions"]["edges"][0]["cursor"]  # a seeded customer's
    second = await three_ways(tenant, query, {"after": cursor, "nested": nested})
    assert second["data"]["customers"]["pageInfo"]["hasPreviousPage"] is True
    assert second["data"]["customers"]["nodes"][0]["id"] != page["nodes"][0]["id"]


async def test_variables_in_the_order_and_the_page(tenant: TenantHandle, graph: Seeded) -> None:
    query = """query($order: CustomerOrder, $first: Int, $last: Int) {
        customers(orderBy: $order, first: $first, last: $last) {
          edges { cursor node { displayName email } } pageInfo { startCursor endCursor } } }"""
    for field in ("CREATED_AT", "UPDATED_AT", "DISPLAY_NAME", "EMAIL"):
        for direction in ("ASC", "DESC"):
            order = {"field": field, "direction": direction}
            await three_ways(tenant, query, {"order": order, "first": 3})
            await three_ways(tenant, query, {"order": order, "last": 2})


# ------------------------------------------------------------------- handed to the executor

HANDED: dict[str, str] = {
    "a field the lane does not plan": "{ customers(first: 1) { nodes { billingConfig {"
    " awsRegion } } } }",
    "a root the lane does not plan": "{ plans(first: 1) { nodes { id } } }",
    "a reference the lane does not plan": """{ customers(first: 1) { nodes {
        subscriptions(first: 1) { nodes { plan { name } } } } } }""",
    "a mutation": 'mutation { setCustomerName(input: {id: "x", name: "y"}) { customer { id } } }',
    "first over 100": "{ customers(first: 101) { nodes { id } } }",
    "first and last": "{ customers(first: 1, last: 1) { nodes { id } } }",
    "a cursor that is not one": '{ customers(first: 1, after: "nope") { nodes { id } } }',
    "a nested cursor that is not one": """{ customers(first: 2) { nodes {
        subscriptions(first: 1, after: "nope") { nodes { id } } } } }""",
    "nested first over 100": """{ customers(first: 1) { nodes {
        instances(first: 500) { nodes { id } } } } }""",
    "a filter that does not parse": '{ customers(filter: "((") { nodes { id } } }',
    "customer without a key": "{ customer { id } }",
    "customer by two keys": '{ customer(handle: "acme", externalId: "x") { id } }',
    "a handle too long": '{ customer(handle: "' + "h" * 1001 + '") { id } }',
    "a malformed ID": '{ customer(id: "%%%") { id } }',
    "a document that does not validate": "{ customers { nodes { nope } } }",
    "a document that does not parse": "{ customers(first: 1) { nodes { id }",
    "a query over the limits": "{ customers(first: 100) { nodes { "
    + " ".join(f"a{n}: subscriptions(first: 100) {{ nodes {{ id }} }}" for n in range(5))
    + " } } }",
}


@pytest.mark.parametrize("name", sorted(HANDED))
async def test_what_the_lane_does_not_take_the_executor_answers(
    tenant: TenantHandle, graph: Seeded, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Same body, nothing answered by the lane, and no warning: these are expected."""
    bodies = []
    for lane in (True, False):
        token = DIRECT.set(lane)
        try:
            with direct_answers() as answered:
                response = await tenant.api.post(HANDED[name])
        finally:
            DIRECT.reset(token)
        assert answered == []
        bodies.append((response.status_code, canonical(response.json())))
    assert bodies[0] == bodies[1]
    assert not [r for r in caplog.records if "direct plan failed" in r.getMessage()]


async def test_a_key_without_the_scope_is_refused_as_by_the_executor(
    tenant: TenantHandle, graph: Seeded
) -> None:
    billing = await tenant.key_with(["read:billing"])
    query = "query($id: ID!) { customer(id: $id) { id } }"
    bodies = []
    for lane in (True, False):
        token = DIRECT.set(lane)
        try:
            with direct_answers() as answered:
                bodies.append((await billing.post(query, {"id": customer_id(graph)})).json())
        finally:
            DIRECT.reset(token)
        assert answered == []
    assert bodies[0] == bodies[1]
    assert bodies[0]["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_another_tenants_rows_are_never_answered(
    tenant: TenantHandle, other_tenant: TenantHandle, graph: Seeded
) -> None:
    theirs = await seed_graph(other_tenant.app, other_tenant.id, 2, per_customer=2)
    their_id = theirs.ids("Customer", theirs.customers)[0]
    body = await three_ways(
        tenant, "query($id: ID!) { customer(id: $id) { id } }", {"id": their_id}
    )
    assert body["data"] == {"customer": None}
    mine = await three_ways(
        tenant,
        "{ customers(first: 50) { totalCount nodes { id subscriptions { nodes { id } } } } }",
    )
    ids = {node["id"] for node in mine["data"]["customers"]["nodes"]}
    assert ids.isdisjoint(theirs.ids("Customer", theirs.customers))
    assert mine["data"]["customers"]["totalCount"] == len(graph.customers) + 1


# ------------------------------------------------------------------- generated selections


def _covered(type_name: str) -> tuple[list[str], dict[str, str]]:
    """The leaf fields and the nested connections (to their node type) the planner takes."""
    type_ = GRAPHQL_SCHEMA.type_map[type_name]
    assert isinstance(type_, GraphQLObjectType)
    table = TABLES[type_name]
    leaves, children = [], {}
    for name, definition in type_.fields.items():
        named = get_named_type(definition.type)
        strawberry_field = definition.extensions[DEFINITION]
        if name in table.children:
            connection = get_named_type(definition.type)
            assert isinstance(connection, GraphQLObjectType)
            node = get_named_type(connection.fields["nodes"].type)
            children[name] = node.name
        elif name in table.composites:
            leaves.append(f"{name} {{ {' '.join(VALUES[named.name])} }}")
        elif name in table.sides or (
            isinstance(named, GraphQLScalarType | GraphQLEnumType)
            and (
                name == "id"
                or name in table.computed
                or (
                    strawberry_field.base_resolver is None
                    and table.column(strawberry_field.python_name) is not None
                )
            )
        ):
            leaves.append(name)
    return leaves, children


def test_the_covered_fields_are_the_ones_expected() -> None:
    """A field added to a table type without being planned would fall back silently."""
    leaves, children = _covered("Customer")
    assert {"id", "displayName", "isArchived", "accountType", "createdAt"} <= set(leaves)
    assert {"ingestAliases", "subscriptionCount", "customFields { key value }"} <= set(leaves)
    assert children == {"subscriptions": "Subscription", "instances": "Instance"}
    assert {"id", "status", "startedAt", "endsAt"} <= set(_covered("Subscription")[0])
    assert {"id", "name", "region", "status"} <= set(_covered("Instance")[0])


@st.composite
def object_selection(draw: st.DrawFn, type_name: str, depth: int) -> str:
    leaves, children = _covered(type_name)
    options = leaves + ["__typename"] + (sorted(children) if depth > 0 else [])
    chosen = draw(st.lists(st.sampled_from(options), min_size=1, max_size=5))
    parts = []
    for index, name in enumerate(chosen):
        head, _, selection = name.partition(" ")  # a small object's field keeps its selection
        if name in children:
            first = draw(st.integers(0, 3))
            status = draw(st.sampled_from(["", ", status: [ACTIVE, RUNNING, TRIALING]"]))
            arguments = f"(first: {first}{status if name == 'subscriptions' else ''})"
            head = f"{name}{arguments}"
        if draw(st.booleans()):
            head = f"f{index}: {head}"
        wrapper = draw(st.sampled_from(["", "include", "skip", "fragment"]))
        if wrapper in ("include", "skip"):
            head = f"{head} @{wrapper}(if: $flag)"
        if name in children:
            field = f"{head} {{ {draw(connection_selection(children[name], depth - 1))} }}"
        else:
            field = f"{head} {selection}"
        if wrapper == "fragment":
            field = f"... on {type_name} {{ {field} }}"
        parts.append(field)
    return " ".join(parts)


@st.composite
def connection_selection(draw: st.DrawFn, node_type: str, depth: int) -> str:
    parts = draw(
        st.lists(
            st.sampled_from(["nodes", "edges", "pageInfo", "totalCount", "__typename"]),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    found = []
    for part in parts:
        if part == "nodes":
            found.append(f"nodes {{ {draw(object_selection(node_type, depth))} }}")
        elif part == "edges":
            found.append(
                f"edges {{ cursor node {{ {draw(object_selection(node_type, depth))} }} }}"
            )
        elif part == "pageInfo":
            found.append("pageInfo { hasNextPage hasPreviousPage startCursor endCursor }")
        else:
            found.append(part)
    return " ".join(found)


@st.composite
def documents(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        first = draw(st.integers(0, 4))
        page = draw(
            st.sampled_from(
                [
                    f"first: {first}",
                    f"first: {first}, orderBy: {{field: EMAIL, direction: ASC}}",
                    f"last: {first}, archived: ALL",
                ]
            )
        )
        root = f"customers({page}) {{ {draw(connection_selection('Customer', 2))} }}"
    else:
        root = f"customer(id: $id) {{ {draw(object_selection('Customer', 2))} }}"
    declared = [d for d in ("$id: ID!", "$flag: Boolean!") if d.split(":")[0] in root]
    header = f"({', '.join(declared)})" if declared else ""
    return f"query{header} {{ {root} }}"


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=documents(), flag=st.booleans())
async def test_generated_selections(
    tenant: TenantHandle, graph: Seeded, document: str, flag: bool
) -> None:
    variables = {"id": customer_id(graph, 1), "flag": flag}
    used = {name: value for name, value in variables.items() if f"${name}" in document}
    await three_ways(tenant, document, used)


async def test_direct_reads_false_leaves_every_query_to_the_executor(
    database_url: str, tenant: TenantHandle
) -> None:
    app = create_app(
        Settings(
            database_url=database_url,
            secret_key=TEST_SECRET,
            rate_limit_per_minute=0,
            direct_reads=False,
        )
    )
    assert app.state.reads is None
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            with direct_answers() as answered:
                response = await http.post(
                    "/graphql",
                    json={"query": "{ customers(first: 1) { nodes { id } } }"},
                    headers={"Authorization": f"Bearer {tenant.key}"},
                )
    finally:
        await app.state.engine.dispose()
    assert response.status_code == 200 and "errors" not in response.json()
    assert answered == []


@pytest.mark.parametrize("where", ["planning", "running"])
async def test_a_failure_of_the_lane_is_logged_and_the_executor_answers(
    tenant: TenantHandle,
    graph: Seeded,
    where: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug in the lane costs a warning, never the request."""
    query = "query Listed { customers(first: 3) { nodes { id displayName } } }"
    token = DIRECT.set(False)
    try:
        expected = await tenant.api.full(query)
    finally:
        DIRECT.reset(token)

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug")

    if where == "planning":
        monkeypatch.setattr("schema.direct.lane.DirectPlanner.plan", broken)
        query = query.replace("Listed", "ListedAgain")  # a document the lane has not kept
    else:
        monkeypatch.setattr("schema.direct.run.DirectRun.answer", broken)
    with direct_answers() as answered:
        body = await tenant.api.full(query)
    assert answered == []
    assert body["data"] == expected["data"]
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warnings and "executor answers" in warnings[0].getMessage()
