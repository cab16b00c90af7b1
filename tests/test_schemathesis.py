"""schemathesis in GraphQL mode over the served schema: no input gives a server error.

The schema is loaded by introspection from a real `customergraph serve` process, and every
root field of Query and Mutation (the federation fields `_entities` and `_service`
included) is one test per backend. schemathesis (through hypothesis-graphql) builds whole
documents for the field, three valid ones for each one the schema must refuse, with random
selections and inline argument values, and POSTs them over HTTP with a key holding every
scope. So that resolvers get past the first check, scalars are drawn partly from what the
tenant really has: IDs of its seeded customers, plans, metrics, subscriptions and
instances; strings that are its cursors, valid filters, handles, codes; Ints in page range.
The rest is random text and numbers, and our custom scalars (DateTime, Decimal, JSON,
_Any) get strategies of their own, well-formed and not.

Every answer must be a clean one (API.md, Errors): HTTP status below 500, a JSON object with
`data` or `errors`, each error with a documented client-side code (never
`INTERNAL_SERVER_ERROR`, `SERVICE_UNAVAILABLE` or a missing code), no "Cannot return null
for non-nullable field" (the server breaking its own schema), and no stack trace or SQL in
any message. Refusals (validation errors, `BAD_USER_INPUT`, `QUERY_TOO_COMPLEX`,
`userErrors`) are expected.

The budget is bounded and the run is reproducible: `EXAMPLES` documents per root field,
derandomized, with no example database, so CI sees the same documents every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import graphql
import httpx
import pytest
import requests
import schemathesis
from conftest import ROOT, LiveServer, TenantHandle, make_tenant
from helpers import create_customer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.graphql import nodes
from schemathesis.specs.graphql.scalars import CUSTOM_SCALARS
from schemathesis.specs.graphql.schemas import GraphQLSchema
from seed import seed_graph
from starlette.applications import Starlette

from domain.ids import encode_global_id

EXAMPLES = 4
ROOT_TYPES = ("Query", "Mutation")


def root_fields() -> list[str]:
    """`Query.customers`, `Mutation.createCustomer`, ... as the checked-in SDL lists them."""
    document = graphql.parse((ROOT / "schema" / "schema.graphql").read_text())
    return [
        f"{definition.name.value}.{field.name.value}"
        for definition in document.definitions
        if isinstance(definition, graphql.ObjectTypeDefinitionNode)
        and definition.name.value in ROOT_TYPES
        for field in definition.fields or ()
    ]


OPERATIONS = root_fields()

# Codes a client may get for what it sent (API.md, Errors; NOT_FOUND is previewInvoice's
# unknown customer). RATE_LIMITED cannot happen (the test server has no limit), and
# SERVICE_UNAVAILABLE and INTERNAL_SERVER_ERROR are failures.
CLIENT_CODES = {
    "BAD_USER_INPUT",
    "FORBIDDEN",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "NOT_FOUND",
    "QUERY_TOO_COMPLEX",
    "UNAUTHENTICATED",
}
LEAKS = (
    "Traceback",
    'File "',
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "sqlite3",
    "IntegrityError",
    "[SQL:",
    "SELECT ",
    "INSERT INTO",
    "DELETE FROM",
    "UPDATE customers",
)
NON_NULL_VIOLATION = "Cannot return null for non-nullable field"

TEXT = st.text(max_size=20)
# Page sizes and versions in range half the time, any 32-bit GraphQL Int otherwise.
INTS = st.one_of(
    st.integers(min_value=-1, max_value=120), st.integers(min_value=-(2**31), max_value=2**31 - 1)
).map(nodes.Int)
DECIMALS = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str).map(nodes.String),
    st.sampled_from(["NaN", "Infinity", "-0", "1e400", "0.1234567890123", "", "x"]).map(
        nodes.String
    ),
    st.integers(min_value=-(2**70), max_value=2**70).map(nodes.Int),
    st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
)
JSON_LEAVES = st.one_of(
    st.just(nodes.Null),
    st.booleans().map(nodes.Boolean),
    st.integers(min_value=-(2**70), max_value=2**70).map(nodes.Int),
    st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
    TEXT.map(nodes.String),
)


def _object(items: dict[str, graphql.ValueNode]) -> graphql.ValueNode:
    return nodes.Object(
        [graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v) for k, v in items.items()]
    )


JSON_VALUES: st.SearchStrategy[graphql.ValueNode] = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(nodes.List),
        st.dictionaries(
            st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True), inner, max_size=3
        ).map(_object),
    ),
    max_leaves=8,
)
DATETIMES = st.one_of(
    st.datetimes(timezones=st.just(UTC)).map(lambda moment: nodes.String(moment.isoformat())),
    st.sampled_from(["2024-13-01T00:00:00Z", "yesterday", "", "2024-01-01"]).map(nodes.String),
)


def id_values(known: list[str]) -> st.SearchStrategy[graphql.ValueNode]:
    return st.one_of(st.sampled_from(known), TEXT).map(nodes.String)


def entity_representations(known: list[str]) -> st.SearchStrategy[graphql.ValueNode]:
    typename = st.sampled_from(
        ["Customer", "Plan", "Subscription", "Instance", "BillableMetric", "X"]
    )
    fields = st.fixed_dictionaries(
        {},
        optional={
            "__typename": typename.map(nodes.String),
            "id": id_values(known),
            "other": JSON_LEAVES,
        },
    )
    return fields.map(_object)


@dataclass
class Target:
    """The tenant the documents run as: its all-scopes key, the global IDs of its rows and
    strings that mean something to it (cursors, filters, handles, codes)."""

    key: str
    ids: list[str]
    strings: list[str]


CURSORS = """{ customers(first: 1) { pageInfo { endCursor } }
  plans(first: 1) { pageInfo { endCursor } }
  billableMetrics(first: 1) { pageInfo { endCursor } } }"""
STRINGS = [
    'display_name : "*customer*"',
    "external_id = 'acme-ext'",
    "create_time > '2024-01-01T00:00:00Z' AND NOT account_type = 'individual'",
    'ingest_aliases : "acme-alias"',
    "acme-corp",
    "acme-ext",
    "acme-alias",
    "acme@example.com",
    "customer",
    "US",
    "USD",
    "en-US",
    "Europe/Paris",
    "metric-0",
    "plan-0",
    "eu-west-1",
    "display_name",
]


@pytest.fixture(scope="session")
async def target(app: Starlette, client: httpx.AsyncClient) -> Target:
    tenant = await make_tenant(app, client)
    seeded = await seed_graph(app, tenant.id, customers=3, per_customer=2)
    acme = await create_customer(
        tenant.api,
        displayName="Acme",
        handle="acme-corp",
        externalId="acme-ext",
        ingestAliases=["acme-alias"],
        email="acme@example.com",
    )
    ids = [
        acme["id"],
        *seeded.ids("Customer", seeded.customers),
        *seeded.ids("Plan", seeded.plans),
        *seeded.ids("BillableMetric", seeded.metrics),
        *seeded.ids("Subscription", seeded.subscriptions),
        *seeded.ids("Instance", seeded.instances),
        encode_global_id("Customer", 2**62),
    ]
    pages = await tenant.api.data(CURSORS)
    cursors = [page["pageInfo"]["endCursor"] for page in pages.values()]
    return Target(tenant.key, ids, [*cursors, *STRINGS])


@pytest.fixture(scope="session")
def api_schema(live_server: LiveServer, target: Target) -> Iterator[GraphQLSchema]:
    """The schema as the server introspects it, with strategies for our custom scalars
    (registered for the session, as schemathesis keeps them in a module-level dict)."""
    loaded = schemathesis.graphql.from_url(
        f"{live_server.url}/graphql", headers={"Authorization": f"Bearer {target.key}"}, timeout=30
    )
    scalars: dict[str, st.SearchStrategy[graphql.ValueNode]] = {
        "ID": id_values(target.ids),
        "String": st.one_of(TEXT, st.sampled_from(target.strings)).map(nodes.String),
        "Int": INTS,
        "Decimal": DECIMALS,
        "JSON": JSON_VALUES,
        "DateTime": DATETIMES,
        "_Any": entity_representations(target.ids),
    }
    saved = dict(CUSTOM_SCALARS)
    for name, strategy in scalars.items():
        schemathesis.graphql.scalar(name, strategy)
    try:
        yield loaded
    finally:
        CUSTOM_SCALARS.clear()
        CUSTOM_SCALARS.update(saved)


def assert_clean(label: str, document: str, response: schemathesis.Response) -> None:
    where = f"{label}\n{document}\n-> {response.status_code} {response.text[:2000]}"
    assert response.status_code < 500, where
    body: Any = response.json()
    assert isinstance(body, dict) and ("data" in body or "errors" in body), where
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code in CLIENT_CODES, where
        message = error["message"]
        assert NON_NULL_VIOLATION not in message, where
        assert not any(leak in message for leak in LEAKS), where


def test_every_root_field_is_fuzzed(api_schema: GraphQLSchema) -> None:
    """The parametrization below covers what the server really serves, no more, no less."""
    served = [
        f"{root}.{name}"
        for root in ROOT_TYPES
        for name in api_schema.client_schema.get_type(root).fields  # type: ignore[union-attr]
    ]
    assert sorted(served) == sorted(OPERATIONS)


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_document_gives_a_server_error(
    label: str, api_schema: GraphQLSchema, live_server: LiveServer, target: Target
) -> None:
    root, name = label.split(".")
    operation = api_schema[root][name]
    # Three valid documents for one the schema must refuse: resolvers are what can crash.
    modes = [GenerationMode.POSITIVE] * 3 + [GenerationMode.NEGATIVE]
    cases = st.sampled_from(modes).flatmap(operation.as_strategy)
    headers = {"Authorization": f"Bearer {target.key}"}
    with requests.Session() as session:

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=cases)
        def run(case: schemathesis.Case[Any]) -> None:
            response = case.call(
                base_url=f"{live_server.url}/graphql", session=session, headers=headers, timeout=30
            )
            assert_clean(label, str(case.body), response)

        run()


ENTITIES = """query($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on Customer { id handle } } }"""


async def test_malformed_entity_representations_are_bad_user_input(tenant: TenantHandle) -> None:
    """What schemathesis found: strawberry's `_entities` raised KeyError or TypeError (a 500)
    for a representation without `__typename`, without `id`, with extra keys or naming a
    type without a key. Each is now a BAD_USER_INPUT at its index; good ones still resolve."""
    acme = await create_customer(tenant.api, displayName="Acme", handle="acme-corp")
    malformed: list[Any] = [
        {},
        {"__typename": "Customer"},
        {"id": acme["id"]},
        {"__typename": "Customer", "id": 7},
        {"__typename": "Customer", "id": acme["id"], "handle": "acme-corp"},
        {"__typename": "Tenant", "id": acme["id"]},
        {"__typename": "PageInfo", "id": acme["id"]},
        {"__typename": "Nope", "id": acme["id"]},
        "Customer",
        [acme["id"]],
    ]
    good = {"__typename": "Customer", "id": acme["id"]}
    body = await tenant.api.gql(ENTITIES, {"representations": [good, *malformed, good]})
    found = {"id": acme["id"], "handle": "acme-corp"}
    assert body["data"] == {"_entities": [found, *[None] * len(malformed), found]}
    errors = sorted(body["errors"], key=lambda error: error["path"][1])
    assert [error["path"] for error in errors] == [
        ["_entities", index] for index in range(1, len(malformed) + 1)
    ]
    for error in errors:
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "representations"}
