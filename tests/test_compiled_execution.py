"""The compiled execution path answers exactly as Strawberry's executor does.

Every query runs twice against the same data: once from its compiled plan
(schema/execution) and once through graphql-core and Strawberry (`COMPILED` off). The two
HTTP bodies must be equal: data, extensions, and errors with their messages, paths and
locations (as a set: the spec leaves their order open). A spy checks that the compiled run
really took the compiled path and the other did not, and the SQL statements of both runs
are counted: the plan never makes more (for answers without errors: once a field error
nulls a parent, graphql-core cancels its siblings' work in flight, the plan lets it finish).

The documents are every operation in tests/operations/, hand-written ones that reach each
corner of the spec the plan implements (aliases, fragments, type conditions on an
interface, @skip/@include from literals and variables, __typename, nulls and errors,
non-null propagation), and hypothesis-generated selections over the schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import OPERATIONS, TenantHandle, count_statements
from graphql import (
    GraphQLNonNull,
    GraphQLObjectType,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    get_named_type,
    is_leaf_type,
    parse,
)
from helpers import canonical, create_customer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from seed import Seeded, seed_graph

import schema.execution as execution
from schema import schema as strawberry_schema
from schema.direct import DIRECT
from schema.execution import COMPILED

GRAPHQL_SCHEMA = strawberry_schema._schema


@contextmanager
def compiled_runs() -> Iterator[list[int]]:
    """Counts the operations that ran from a compiled plan."""
    runs: list[int] = []
    original = execution.CompiledExecutor._run

    async def spy(self: Any, plan: Any) -> Any:
        runs.append(1)
        return await original(self, plan)

    execution.CompiledExecutor._run = spy  # type: ignore[method-assign]
    try:
        yield runs
    finally:
        execution.CompiledExecutor._run = original  # type: ignore[method-assign]


async def both_ways(
    tenant: TenantHandle, query: str, variables: dict[str, Any] | None = None, compiles: bool = True
) -> dict[str, Any]:
    """The body of `query` run both ways; asserts they are equal and each took its path."""
    bodies, counts = [], []
    for compiled in (True, False):
        token, direct = COMPILED.set(compiled), DIRECT.set(False)  # the executor's paths
        try:
            with compiled_runs() as runs, count_statements(tenant.app) as statements:
                body = await tenant.api.full(query, variables)
        finally:
            COMPILED.reset(token)
            DIRECT.reset(direct)
        assert len(runs) == (1 if compiled and compiles else 0), (compiled, query)
        bodies.append(body)
        counts.append(len(statements))
    assert canonical(bodies[0]) == canonical(bodies[1]), (query, variables)
    if "errors" not in bodies[0]:  # after an error, graphql-core cancels work in flight
        # Never more statements; fewer when the plan's levels batch what graphql-core's
        # scheduling happens to split (a node and a page of the same type, say).
        assert counts[0] <= counts[1], (query, counts)
    return bodies[0]


@pytest.fixture
async def graph(tenant: TenantHandle) -> Seeded:
    seeded = await seed_graph(tenant.app, tenant.id, 4, per_customer=3)
    await create_customer(
        tenant.api,
        displayName="Ünïcode & Co",
        handle="acme",
        externalId="ACME-1",
        accountType="BUSINESS",
        countryCode="DE",
        ingestAliases=["acme-alias", "acme-2"],
        customFields=[{"key": "tier", "value": "gold"}, {"key": "a", "value": ""}],
    )
    return seeded


def variables_for(seeded: Seeded) -> dict[str, Any]:
    customer = seeded.ids("Customer", seeded.customers)[0]
    return {"id": customer, "first": 3, "ids": [customer, "bm90LWFuLWlk"]}


@pytest.mark.parametrize("path", sorted(OPERATIONS.glob("*.graphql")), ids=lambda p: p.stem)
async def test_every_shared_operation(tenant: TenantHandle, graph: Seeded, path: Any) -> None:
    document = parse(path.read_text())
    wanted = variables_for(graph)
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if definition.operation is not OperationType.QUERY:
            continue
        names = {v.variable.name.value for v in definition.variable_definitions or ()}
        variables = {name: wanted[name] for name in names}
        body = await both_ways(tenant, path.read_text(), variables)
        assert body.get("data") is not None


CORNERS = {
    "aliases and merged fields": """
        query { a: customers(first: 2) { nodes { id x: displayName id } }
                b: customers(first: 1, orderBy: {field: DISPLAY_NAME, direction: DESC}) {
                    totalCount edges { cursor node { email } } pageInfo { startCursor } } }""",
    "fragments and type conditions": """
        query($id: ID!) {
          node(id: $id) { __typename ...Named ... on Node { id } ... on Plan { name } }
          customers(first: 2) { ...Page nodes { ...Named } } }
        fragment Named on Customer { displayName handle ingestAliases customFields { key } }
        fragment Page on CustomerConnection { pageInfo { hasNextPage hasPreviousPage } }""",
    "directives": """
        query($yes: Boolean!, $no: Boolean!) {
          customers(first: 2) {
            nodes { id @skip(if: $yes) email @include(if: $yes) handle @include(if: false)
                    ... on Customer @skip(if: $no) { version } }
            totalCount @skip(if: true) } }""",
    "nested lists and nulls": """
        query($id: ID!) { customer(id: $id) {
          subscriptions(first: 2) { nodes { id status plan { name charges { unitPrice
              billableMetric { name aggregationType archivedAt } } } } }
          instances(last: 2) { edges { cursor node { name subscription { id } } } }
          billingConfig { billingProviderType } config { salesforceAccountId }
          billableStatus { value effectiveAt } subscriptionCount latestSubscriptionStatus } }""",
    "nodes of several types and a miss": """
        query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }""",
    "field errors with paths": """
        query { customers(first: 2, after: "not-a-cursor") { nodes { id } }
                ok: customers(first: 1) { nodes { id
                    subscriptions(first: 500) { nodes { id } } } } }""",
    "a null root": """
        query { customer(handle: "nobody") { id } }""",
    "viewer and typename at the root": """
        query { __typename viewer { scopes tenant { name } } }""",
}


@pytest.mark.parametrize("name", sorted(CORNERS))
async def test_corners_of_the_spec(tenant: TenantHandle, graph: Seeded, name: str) -> None:
    variables = {**variables_for(graph), "yes": True, "no": False}
    document = parse(CORNERS[name])
    used = {
        v.variable.name.value
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
        for v in d.variable_definitions or ()
    }
    await both_ways(tenant, CORNERS[name], {k: v for k, v in variables.items() if k in used})


async def test_what_is_not_compiled_runs_through_strawberry(tenant: TenantHandle) -> None:
    """Introspection and federation's fields fall back, and still answer."""
    for query in ("{ __schema { queryType { name } } }", "{ _service { sdl } }"):
        body = await both_ways(tenant, query, compiles=False)
        assert body["data"] is not None


async def test_a_non_null_error_nulls_the_nearest_nullable_parent(
    tenant: TenantHandle, graph: Seeded
) -> None:
    """A resolver error under a non-null field travels up to the nullable `customer`."""
    query = 'query { customer(handle: "acme") { id subscriptions(first: -1) { nodes { id } } } }'
    body = await both_ways(tenant, query)
    assert body["data"] == {"customer": None}
    assert [e["path"] for e in body["errors"]] == [["customer", "subscriptions"]]


# ------------------------------------------------------------------- generated selections

ROOTS = {
    "customers": "customers(first: 2)",
    "customer": "customer(id: $id)",
    "plans": "plans(first: 2)",
    "billableMetrics": "billableMetrics(first: 2)",
}


def _selectable(type_: GraphQLObjectType) -> list[str]:
    """Fields that need no arguments, or whose arguments all have defaults (connections
    page with their default size, so `first: 2` is added to keep cost small)."""
    names = []
    for name, definition in type_.fields.items():
        if name.startswith("_"):
            continue
        required = [
            a
            for a in definition.args.values()
            if isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined
        ]
        if not required:
            names.append(name)
    return names


@st.composite
def selection(draw: st.DrawFn, type_: GraphQLObjectType, depth: int) -> str:
    names = _selectable(type_)
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=4))
    parts = []
    for index, name in enumerate(chosen):
        definition = type_.fields[name]
        named = get_named_type(definition.type)
        head = f"{name}(first: 2)" if "first" in definition.args else name
        if draw(st.booleans()):
            head = f"{name}_{index}: {head}"
        wrapper = draw(st.sampled_from(["", "include", "skip", "fragment"]))
        if wrapper in ("include", "skip"):
            head = f"{head} @{wrapper}(if: $flag)"
        if is_leaf_type(named):
            field = head
        elif isinstance(named, GraphQLObjectType) and depth > 0:
            field = f"{head} {{ {draw(selection(named, depth - 1))} }}"
        else:
            field = "__typename"
        if wrapper == "fragment":
            field = f"... on {type_.name} {{ {field} }}"
        parts.append(field)
    return " ".join(parts)


@st.composite
def documents(draw: st.DrawFn) -> str:
    root = draw(st.sampled_from(sorted(ROOTS)))
    field = GRAPHQL_SCHEMA.query_type.fields[root]  # type: ignore[union-attr]
    named = get_named_type(field.type)
    assert isinstance(named, GraphQLObjectType)
    body = draw(selection(named, 3))
    declared = [d for d in ("$id: ID!", "$flag: Boolean!") if d.split(":")[0] in body + ROOTS[root]]
    header = f"({', '.join(declared)})" if declared else ""
    return f"query{header} {{ {ROOTS[root]} {{ {body} }} }}"


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
    variables = {"id": graph.ids("Customer", graph.customers)[1], "flag": flag}
    used = {name: value for name, value in variables.items() if f"${name}" in document}
    await both_ways(tenant, document, used)
