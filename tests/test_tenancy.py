"""Tenant isolation over HTTP (API.md, Identity, tenancy, scopes).

No query, mutation, `node`, `nodes`, `_entities`, alias lookup, cursor or filter reaches
another tenant's rows; another tenant's ID behaves exactly like an ID that does not exist.
Uniqueness is per tenant. `_entities` and `nodes` are batched: the number of SQL statements
does not depend on how many objects are asked for.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import Api, TenantHandle, assert_statements, count_statements
from helpers import (
    CUSTOMER_FIELDS,
    create_customer,
    create_customer_batch,
    create_customer_errors,
)
from starlette.applications import Starlette

from domain.ids import encode_global_id

READ = f"query($id: ID!) {{ node(id: $id) {{ ... on Customer {{ {CUSTOMER_FIELDS} }} }} }}"
ENTITIES = """
query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Customer { id email ingestAliases }
  }
}
"""
NODES = """
query($ids: [ID!]!) {
  nodes(ids: $ids) { id ... on Customer { email ingestAliases } }
}
"""
CUSTOMERS = """
query(
  $ids: [ID!], $filter: String, $search: String, $ingestAlias: String,
  $salesforceAccountIds: [String!], $after: String
) {
  customers(
    ids: $ids, filter: $filter, search: $search, ingestAlias: $ingestAlias,
    salesforceAccountIds: $salesforceAccountIds, archived: ALL, first: 100, after: $after
  ) {
    totalCount
    nodes { id email }
    edges { cursor node { id } }
  }
}
"""
MISSING_ID = encode_global_id("Customer", 987_654_321_012)


@dataclass
class Victim:
    """The first tenant's customers: one active, one archived, with every lookup key set."""

    active: dict[str, Any]
    archived: dict[str, Any]


async def read(api: Api, global_id: str) -> dict[str, Any] | None:
    node: dict[str, Any] | None = (await api.data(READ, {"id": global_id}))["node"]
    return node


async def make_victim(tenant: TenantHandle) -> Victim:
    active = await create_customer(
        tenant.api,
        displayName="Acme Corp",
        companyName="Acme Corporation",
        email="billing@acme.example",
        handle="acme-corp",
        externalId="acme-ext-1",
        ingestAliases=["acme-alias-1", "acme-alias-2"],
        config={"salesforceAccountId": "SF-ACME-1"},
        customFields=[{"key": "tier", "value": "gold"}],
    )
    archived = await create_customer(
        tenant.api,
        displayName="Old Acme",
        email="old@acme.example",
        handle="old-acme",
        externalId="acme-ext-old",
        ingestAliases=["acme-old-alias"],
        config={"salesforceAccountId": "SF-ACME-OLD"},
    )
    data = await tenant.api.data(
        "mutation($id: ID!) { archiveCustomer(input: {id: $id}) "
        "{ customer { id } userErrors { code } } }",
        {"id": archived["id"]},
    )
    assert data["archiveCustomer"]["userErrors"] == []
    archived = await read(tenant.api, archived["id"]) or {}
    assert archived["isArchived"] is True
    return Victim(active=active, archived=archived)


# ---------------------------------------------------------------- reads


async def test_node_and_nodes_do_not_reach_other_tenant(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    victim = await make_victim(tenant)
    ids = [victim.active["id"], victim.archived["id"]]
    tenant_global_id = encode_global_id("Tenant", str(tenant.id))
    for global_id in [*ids, tenant_global_id]:
        body = await other_tenant.api.gql(
            "query($id: ID!) { node(id: $id) { id } }", {"id": global_id}
        )
        # Exactly like an ID that does not exist: null, no error.
        assert body == {"data": {"node": None}}, (global_id, body)
    data = await other_tenant.api.data(NODES, {"ids": [*ids, MISSING_ID, tenant_global_id]})
    assert data["nodes"] == [None, None, None, None]
    # The owner does see them (so the test above is not vacuous).
    data = await tenant.api.data(NODES, {"ids": [*ids, tenant_global_id]})
    assert [node["id"] if node else None for node in data["nodes"]] == [*ids, tenant_global_id]


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("handle", "acme-corp"),
        ("handle", "ACME-CORP"),
        ("externalId", "acme-ext-1"),
        ("ingestAlias", "acme-alias-2"),
        ("ingestAlias", "ACME-ALIAS-1"),
    ],
)
async def test_customer_lookup_keys_do_not_reach_other_tenant(
    tenant: TenantHandle, other_tenant: TenantHandle, argument: str, value: str
) -> None:
    victim = await make_victim(tenant)
    query = f"query($v: String!) {{ customer({argument}: $v) {{ id email }} }}"
    mine = await tenant.api.data(query, {"v": value})
    assert mine["customer"] == {"id": victim.active["id"], "email": "billing@acme.example"}
    body = await other_tenant.api.gql(query, {"v": value})
    assert body == {"data": {"customer": None}}


async def test_customer_by_id_does_not_reach_other_tenant(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    victim = await make_victim(tenant)
    query = "query($id: ID!) { customer(id: $id) { id email } }"
    for customer in (victim.active, victim.archived):
        assert (await tenant.api.data(query, {"id": customer["id"]}))["customer"] is not None
        body = await other_tenant.api.gql(query, {"id": customer["id"]})
        assert body == {"data": {"customer": None}}
        assert body == await other_tenant.api.gql(query, {"id": MISSING_ID})


async def customer_ids(api: Api, **variables: Any) -> list[str]:
    data = await api.data(CUSTOMERS, variables)
    connection = data["customers"]
    ids = [node["id"] for node in connection["nodes"]]
    assert [edge["node"]["id"] for edge in connection["edges"]] == ids
    assert connection["totalCount"] == len(ids)
    return ids


CUSTOMERS_ARGUMENTS: list[dict[str, Any]] = [
    {},
    {"filter": 'email = "billing@acme.example"'},
    {"filter": 'email : "*acme*"'},
    {"filter": 'display_name : "*acme*" OR handle = "acme-corp"'},
    {"filter": "external_id = 'acme-ext-1'"},
    {"filter": 'ingest_aliases = "acme-alias-1"'},
    {"filter": 'custom_fields.tier = "gold"'},
    {"filter": 'NOT email = "nobody@example.com"'},
    {"search": "acme"},
    {"search": "billing@acme.example"},
    {"ingestAlias": "acme-alias-1"},
    {"ingestAlias": "acme-old-alias"},
    {"salesforceAccountIds": ["SF-ACME-1", "SF-ACME-OLD"]},
]


async def test_customers_list_does_not_reach_other_tenant(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    victim = await make_victim(tenant)
    victim_ids = {victim.active["id"], victim.archived["id"]}
    own = await create_customer(other_tenant.api, displayName="Own", email="own@b.example")
    assert await customer_ids(other_tenant.api) == [own["id"]]
    assert await customer_ids(other_tenant.api, ids=list(victim_ids)) == []
    assert await customer_ids(other_tenant.api, ids=[*victim_ids, own["id"]]) == [own["id"]]
    for arguments in CUSTOMERS_ARGUMENTS:
        # The owner finds at least one of its customers with these arguments ...
        assert set(await customer_ids(tenant.api, **arguments)) & victim_ids, arguments
        # ... the other tenant none: at most its own customer.
        theirs = await customer_ids(other_tenant.api, **arguments)
        assert not set(theirs) & victim_ids, arguments
        assert set(theirs) <= {own["id"]}, arguments


async def test_cursor_of_other_tenant_reveals_nothing(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    victim = await make_victim(tenant)
    own = await create_customer(other_tenant.api, displayName="Own", email="own@b.example")
    data = await tenant.api.data(CUSTOMERS, {})
    cursors = [edge["cursor"] for edge in data["customers"]["edges"]]
    assert cursors
    for cursor in cursors:
        body = await other_tenant.api.gql(CUSTOMERS, {"after": cursor})
        if "errors" in body:  # rejecting a foreign cursor is fine too
            assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
            continue
        ids = {node["id"] for node in body["data"]["customers"]["nodes"]}
        assert ids <= {own["id"]}
        assert victim.active["id"] not in str(body)


# ---------------------------------------------------------------- mutations


MUTATIONS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "updateCustomer",
        "UpdateCustomerInput",
        {"displayName": "Hijacked", "email": "hijack@evil.example", "handle": "hijacked"},
    ),
    ("updateCustomer", "UpdateCustomerInput", {"expectedVersion": 1, "description": "pwned"}),
    ("updateCustomer", "UpdateCustomerInput", {"updateMask": ["email"]}),
    ("setCustomerName", "SetCustomerNameInput", {"name": "Hijacked"}),
    ("setCustomerIngestAliases", "SetCustomerIngestAliasesInput", {"ingestAliases": ["evil"]}),
    ("setCustomerIngestAliases", "SetCustomerIngestAliasesInput", {"ingestAliases": []}),
    (
        "updateCustomerConfig",
        "UpdateCustomerConfigInput",
        {"salesforceAccountId": "SF-EVIL", "leaveStripeInvoicesInDraft": True},
    ),
    ("archiveCustomer", "ArchiveCustomerInput", {}),
    ("restoreCustomer", "RestoreCustomerInput", {}),
]


def mutation_document(name: str, input_type: str) -> str:
    return (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) "
        f"{{ customer {{ id email }} userErrors {{ field code message }} }} }}"
    )


@pytest.mark.parametrize(("name", "input_type", "fields"), MUTATIONS)
async def test_mutations_do_not_touch_other_tenant(
    tenant: TenantHandle,
    other_tenant: TenantHandle,
    name: str,
    input_type: str,
    fields: dict[str, Any],
) -> None:
    victim = await make_victim(tenant)
    document = mutation_document(name, input_type)
    missing = await other_tenant.api.data(document, {"input": {**fields, "id": MISSING_ID}})
    assert missing[name]["customer"] is None
    assert [(e["code"], e["field"]) for e in missing[name]["userErrors"]] == [
        ("NOT_FOUND", ["input", "id"])
    ]
    for customer in (victim.active, victim.archived):
        before = await read(tenant.api, customer["id"])
        data = await other_tenant.api.data(document, {"input": {**fields, "id": customer["id"]}})
        # Exactly what an ID that does not exist gets.
        assert data == missing, (customer["handle"], data)
        assert await read(tenant.api, customer["id"]) == before
        assert await read(other_tenant.api, customer["id"]) is None


async def test_lookups_after_failed_hijack_still_answer_for_owner(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    """The owner's aliases and handle still resolve to its customer, and only for it."""
    victim = await make_victim(tenant)
    for name, input_type, fields in MUTATIONS:
        document = mutation_document(name, input_type)
        await other_tenant.api.data(document, {"input": {**fields, "id": victim.active["id"]}})
    query = '{ customer(ingestAlias: "acme-alias-1") { id ingestAliases handle } }'
    assert (await tenant.api.data(query))["customer"] == {
        "id": victim.active["id"],
        "ingestAliases": ["acme-alias-1", "acme-alias-2"],
        "handle": "acme-corp",
    }
    assert (await other_tenant.api.data(query))["customer"] is None


# ---------------------------------------------------------------- _entities


def representations(ids: list[str]) -> list[dict[str, str]]:
    return [{"__typename": "Customer", "id": global_id} for global_id in ids]


async def test_entities_do_not_reach_other_tenant(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    victim = await make_victim(tenant)
    own = await create_customer(other_tenant.api, email="own@b.example")
    ids = [victim.active["id"], own["id"], victim.archived["id"], MISSING_ID]
    body = await other_tenant.api.gql(ENTITIES, {"representations": representations(ids)})
    assert body == {
        "data": {
            "_entities": [
                None,
                {"id": own["id"], "email": "own@b.example", "ingestAliases": []},
                None,
                None,
            ]
        }
    }
    mine = await tenant.api.data(ENTITIES, {"representations": representations(ids[:1])})
    assert mine["_entities"][0]["email"] == "billing@acme.example"


# ---------------------------------------------------------------- uniqueness


async def test_uniqueness_is_per_tenant(tenant: TenantHandle, other_tenant: TenantHandle) -> None:
    same = {
        "email": "same@shared.example",
        "handle": "same-handle",
        "externalId": "same-external-id",
        "ingestAliases": ["same-alias"],
    }
    first = await create_customer(tenant.api, displayName="First", **same)
    second = await create_customer(other_tenant.api, displayName="Second", **same)
    assert first["id"] != second["id"]
    for argument, value in (
        ("handle", "same-handle"),
        ("externalId", "same-external-id"),
        ("ingestAlias", "same-alias"),
    ):
        query = f'{{ customer({argument}: "{value}") {{ id displayName }} }}'
        assert (await tenant.api.data(query))["customer"] == {
            "id": first["id"],
            "displayName": "First",
        }
        assert (await other_tenant.api.data(query))["customer"] == {
            "id": second["id"],
            "displayName": "Second",
        }
    # Within one tenant the values stay unique (case-insensitively).
    duplicates: list[tuple[str, str | list[str]]] = [
        ("email", "SAME@shared.example"),
        ("handle", "Same-Handle"),
        ("externalId", "SAME-EXTERNAL-ID"),
        ("ingestAliases", ["Same-Alias"]),
    ]
    for field, duplicate in duplicates:
        errors = await create_customer_errors(
            other_tenant.api, displayName="Dup", **{field: duplicate}
        )
        assert [(e["code"], e["field"]) for e in errors] == [("TAKEN", ["input", field])]


async def test_restore_is_not_blocked_by_other_tenant_reusing_values(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    """An archived customer's values taken meanwhile by another tenant do not block restore."""
    victim = await make_victim(tenant)
    archived = victim.archived
    await create_customer(
        other_tenant.api,
        email=archived["email"],
        handle=archived["handle"],
        externalId=archived["externalId"],
        ingestAliases=archived["ingestAliases"],
    )
    data = await tenant.api.data(
        mutation_document("restoreCustomer", "RestoreCustomerInput"),
        {"input": {"id": archived["id"]}},
    )
    assert data["restoreCustomer"]["userErrors"] == []
    assert data["restoreCustomer"]["customer"] == {"id": archived["id"], "email": archived["email"]}
    query = '{ customer(ingestAlias: "acme-old-alias") { id } }'
    assert (await tenant.api.data(query))["customer"] == {"id": archived["id"]}
    assert (await other_tenant.api.data(query))["customer"]["id"] != archived["id"]


# ---------------------------------------------------------------- batching


@pytest.fixture
async def hundred(tenant: TenantHandle) -> list[dict[str, Any]]:
    """100 customers of `tenant`, in a fixed shuffled order; the first has aliases."""
    inputs = [{"displayName": f"bulk {i}", "email": f"bulk-{i}@example.com"} for i in range(100)]
    customers = await create_customer_batch(tenant.api, inputs)
    await tenant.api.data(
        "mutation($id: ID!) { setCustomerIngestAliases(input: {id: $id, "
        'ingestAliases: ["b-1", "b-2"]}) { userErrors { code } } }',
        {"id": customers[0]["id"]},
    )
    random.Random(7).shuffle(customers)
    return customers


def expected_answers(customers: list[dict[str, Any]], first_id: str) -> list[dict[str, Any]]:
    return [
        {
            "id": customer["id"],
            "email": customer["email"],
            "ingestAliases": ["b-1", "b-2"] if customer["id"] == first_id else [],
        }
        for customer in customers
    ]


async def test_entities_answer_100_in_order_with_constant_statements(
    app: Starlette, tenant: TenantHandle, hundred: list[dict[str, Any]]
) -> None:
    first_id = next(c["id"] for c in hundred if c["email"] == "bulk-0@example.com")
    data = await tenant.api.data(
        ENTITIES, {"representations": representations([c["id"] for c in hundred])}
    )
    assert data["_entities"] == expected_answers(hundred, first_id)

    with count_statements(app) as ten:
        await tenant.api.data(
            ENTITIES, {"representations": representations([c["id"] for c in hundred[:10]])}
        )
    with count_statements(app) as all_hundred:
        await tenant.api.data(
            ENTITIES, {"representations": representations([c["id"] for c in hundred])}
        )
    assert len(ten) < 10, "\n".join(ten)
    assert_statements(all_hundred, len(ten))


async def test_nodes_answer_100_in_order_with_constant_statements(
    app: Starlette, tenant: TenantHandle, hundred: list[dict[str, Any]]
) -> None:
    first_id = next(c["id"] for c in hundred if c["email"] == "bulk-0@example.com")
    ids = [c["id"] for c in hundred]
    data = await tenant.api.data(NODES, {"ids": ids})
    assert data["nodes"] == expected_answers(hundred, first_id)

    with count_statements(app) as ten:
        await tenant.api.data(NODES, {"ids": ids[:10]})
    with count_statements(app) as all_hundred:
        await tenant.api.data(NODES, {"ids": ids})
    assert len(ten) < 10, "\n".join(ten)
    assert_statements(all_hundred, len(ten))


async def test_entities_batch_with_other_tenant_ids_mixed_in(
    app: Starlette,
    tenant: TenantHandle,
    other_tenant: TenantHandle,
    hundred: list[dict[str, Any]],
) -> None:
    """Other tenant's rows are filtered inside the one batched query, not after it."""
    ids = [c["id"] for c in hundred]
    with count_statements(app) as statements:
        data = await other_tenant.api.data(ENTITIES, {"representations": representations(ids)})
    assert data["_entities"] == [None] * 100
    assert len(statements) < 10, "\n".join(statements)
