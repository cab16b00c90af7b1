"""Authentication, organisation header, scopes and error masking over HTTP (API.md).

Identity, tenancy, scopes: a key is sent as `Authorization: Bearer` or `X-Api-Key`; a
missing, unknown or revoked key is HTTP 401 UNAUTHENTICATED "Invalid API key";
`X-Organization-Id`, when sent, must name the key's tenant, else HTTP 403 FORBIDDEN.
Errors: unexpected exceptions are masked as INTERNAL_SERVER_ERROR with no detail.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from conftest import Api, TenantHandle, add_api_key
from helpers import create_customer
from sqlalchemy.exc import ProgrammingError

import resolvers.customers
import schema.direct.run
from domain.ids import decode_global_id, encode_global_id

VIEWER = "{ viewer { tenant { id name } scopes } }"
COUNT = "query($search: String) { customers(search: $search) { totalCount } }"
CREATE_ID = """
mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { code field } }
}
"""


async def post(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    query: str = VIEWER,
    variables: dict[str, Any] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return await client.post("/graphql", json=body, headers=headers)


def assert_unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert "data" not in body, body
    assert body["errors"][0]["message"] == "Invalid API key"
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def assert_forbidden_status(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert "data" not in body, body
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def customer_count(api: Api, search: str) -> int:
    data = await api.data(COUNT, {"search": search})
    total: int = data["customers"]["totalCount"]
    return total


# ---------------------------------------------------------------- authentication


async def test_missing_key_is_401(client: httpx.AsyncClient) -> None:
    assert_unauthenticated(await post(client, {}))


async def test_unknown_key_is_401(client: httpx.AsyncClient, tenant: TenantHandle) -> None:
    unknown = tenant.key[:-4] + ("aaaa" if not tenant.key.endswith("aaaa") else "bbbb")
    assert_unauthenticated(await post(client, {"Authorization": f"Bearer {unknown}"}))
    assert_unauthenticated(await post(client, {"X-Api-Key": unknown}))
    assert_unauthenticated(await post(client, {"X-Api-Key": "cg_" + "x" * 500}))


async def test_revoked_key_is_401(client: httpx.AsyncClient, tenant: TenantHandle) -> None:
    revoked = await add_api_key(tenant.app, tenant.id, ["read:customers"], revoked=True)
    assert_unauthenticated(await post(client, {"Authorization": f"Bearer {revoked}"}))
    assert_unauthenticated(await post(client, {"X-Api-Key": revoked}))


@pytest.mark.parametrize(
    "template",
    [
        "Basic {key}",
        "Token {key}",
        "{key}",
        "Bearer",
        "Bearer ",
        "Bearer{key}",
        "",
    ],
)
async def test_malformed_authorization_header_is_401(
    client: httpx.AsyncClient, tenant: TenantHandle, template: str
) -> None:
    """A valid key in a malformed header is not accepted: only `Bearer <key>` is."""
    header = template.format(key=tenant.key)
    response = await post(client, {"Authorization": header})
    assert_unauthenticated(response)
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")


async def test_401_executes_nothing(client: httpx.AsyncClient, tenant: TenantHandle) -> None:
    email = f"unauth-{uuid.uuid4().hex[:8]}@example.com"
    variables = {"input": {"displayName": "Nobody", "email": email}}
    assert_unauthenticated(await post(client, {"X-Api-Key": "nope"}, CREATE_ID, variables))
    assert await customer_count(tenant.api, email) == 0


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
async def test_authorization_bearer_works(
    client: httpx.AsyncClient, tenant: TenantHandle, scheme: str
) -> None:
    response = await post(client, {"Authorization": f"{scheme} {tenant.key}"})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["viewer"]["tenant"]["name"] == tenant.name


async def test_x_api_key_works(client: httpx.AsyncClient, tenant: TenantHandle) -> None:
    response = await post(client, {"X-Api-Key": tenant.key})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["viewer"]["tenant"]["name"] == tenant.name


async def test_each_key_acts_for_its_own_tenant(
    client: httpx.AsyncClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    mine = (await post(client, {"X-Api-Key": tenant.key})).json()["data"]["viewer"]
    theirs = (await post(client, {"X-Api-Key": other_tenant.key})).json()["data"]["viewer"]
    assert mine["tenant"]["name"] == tenant.name
    assert theirs["tenant"]["name"] == other_tenant.name
    assert mine["tenant"]["id"] != theirs["tenant"]["id"]


# ---------------------------------------------------------------- X-Organization-Id


async def test_organization_id_of_own_tenant_passes(
    client: httpx.AsyncClient, tenant: TenantHandle
) -> None:
    viewer = (await tenant.api.data(VIEWER))["viewer"]
    global_id = viewer["tenant"]["id"]
    # A UUID in upper case is the same UUID; surrounding blanks are ignored.
    for organization in (str(tenant.id), str(tenant.id).upper(), f" {tenant.id} ", global_id):
        headers = {"Authorization": f"Bearer {tenant.key}", "X-Organization-Id": organization}
        response = await post(client, headers)
        assert response.status_code == 200, (organization, response.text)
        assert response.json()["data"] == {"viewer": viewer}


async def test_other_organization_id_is_403(
    client: httpx.AsyncClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    other_global_id = (await other_tenant.api.data(VIEWER))["viewer"]["tenant"]["id"]
    for organization in (
        str(other_tenant.id),
        other_global_id,
        str(uuid.uuid4()),
        encode_global_id("Customer", str(tenant.id)),
        "not-an-organization",
        "",
    ):
        headers = {"X-Api-Key": tenant.key, "X-Organization-Id": organization}
        assert_forbidden_status(await post(client, headers))


async def test_403_organization_executes_nothing(
    client: httpx.AsyncClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    email = f"wrong-org-{uuid.uuid4().hex[:8]}@example.com"
    headers = {"X-Api-Key": tenant.key, "X-Organization-Id": str(other_tenant.id)}
    variables = {"input": {"displayName": "Nobody", "email": email}}
    assert_forbidden_status(await post(client, headers, CREATE_ID, variables))
    assert await customer_count(tenant.api, email) == 0
    assert await customer_count(other_tenant.api, email) == 0


# ---------------------------------------------------------------- scopes


def forbidden_extensions(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [error["extensions"] for error in body["errors"]]


async def test_customers_without_read_scope_is_forbidden(tenant: TenantHandle) -> None:
    await create_customer(tenant.api, email="hidden@example.com")
    api = await tenant.key_with(["write:customers", "read:billing"])
    body = await api.gql("{ customers { totalCount nodes { email } } }")
    assert body["data"] is None
    assert len(body["errors"]) == 1
    error = body["errors"][0]
    assert error["path"] == ["customers"]
    assert error["extensions"] == {"code": "FORBIDDEN", "missingScopes": ["read:customers"]}
    assert "hidden@example.com" not in str(body)


async def test_reads_by_id_without_read_scope_are_forbidden(tenant: TenantHandle) -> None:
    customer = await create_customer(tenant.api, email="byid@example.com")
    api = await tenant.key_with(["write:customers"])
    variables = {"id": customer["id"]}
    for query, path in (
        ("query($id: ID!) { customer(id: $id) { email } }", ["customer"]),
        ("query($id: ID!) { node(id: $id) { ... on Customer { email } } }", ["node"]),
    ):
        body = await api.gql(query, variables)
        assert body["data"] == {path[0]: None}, body
        assert body["errors"][0]["path"] == path
        expected = {"code": "FORBIDDEN", "missingScopes": ["read:customers"]}
        assert body["errors"][0]["extensions"] == expected
    body = await api.gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": [customer["id"]]}
    )
    assert "byid@example.com" not in str(body)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["extensions"]["missingScopes"] == ["read:customers"]


async def test_mutation_without_write_scope_is_forbidden(tenant: TenantHandle) -> None:
    email = f"ro-{uuid.uuid4().hex[:8]}@example.com"
    api = await tenant.key_with(["read:customers"])
    body = await api.gql(CREATE_ID, {"input": {"displayName": "Read only", "email": email}})
    assert body["data"] is None, body
    expected = {"code": "FORBIDDEN", "missingScopes": ["write:customers"]}
    assert body["errors"][0]["extensions"] == expected
    assert body["errors"][0]["path"] == ["createCustomer"]
    assert await customer_count(tenant.api, email) == 0


async def test_viewer_needs_no_scope(tenant: TenantHandle) -> None:
    api = await tenant.key_with([])
    viewer = (await api.data(VIEWER))["viewer"]
    assert viewer["tenant"]["name"] == tenant.name
    assert viewer["tenant"]["id"] == encode_global_id("Tenant", str(tenant.id))
    assert viewer["scopes"] == []


async def test_viewer_lists_scopes_sorted(tenant: TenantHandle) -> None:
    api = await tenant.key_with(["write:usage", "read:customers", "read:billing"])
    viewer = (await api.data(VIEWER))["viewer"]
    assert viewer["scopes"] == ["read:billing", "read:customers", "write:usage"]
    assert viewer["tenant"]["name"] == tenant.name
    full = (await tenant.api.data(VIEWER))["viewer"]
    assert full["scopes"] == sorted(full["scopes"])
    assert set(full["scopes"]) == {
        "read:customers",
        "write:customers",
        "read:billing",
        "write:billing",
        "write:usage",
    }


# ---------------------------------------------------------------- masking


SECRET = "secret sql detail"


def assert_masked(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    text = response.text
    for leak in (SECRET, "Traceback", "RuntimeError", "SELECT", "secret_column", ".py"):
        assert leak not in text, text
    body: dict[str, Any] = response.json()
    assert len(body["errors"]) == 1, body
    error = body["errors"][0]
    assert error["message"] == "Internal server error"
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    return body


async def test_unexpected_exception_is_masked(
    tenant: TenantHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_: Any, **__: Any) -> Any:
        raise RuntimeError(SECRET)

    # The page's statements, as both the direct lane and the resolver build them: the lane
    # hands the request to the executor, where the resolver's error is masked.
    monkeypatch.setattr(resolvers.customers, "customer_page", explode)
    monkeypatch.setattr(schema.direct.run, "customer_page", explode)
    body = assert_masked(await tenant.api.post("{ customers { totalCount } }"))
    assert body["data"] is None
    assert body["errors"][0]["path"] == ["customers"]


async def test_database_error_text_is_masked(
    tenant: TenantHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail() -> Any:
        raise ProgrammingError(
            "SELECT secret_column FROM customers WHERE tenant_id = $1",
            {"tenant_id": str(tenant.id)},
            RuntimeError(SECRET),
        )

    async def explode(*_: Any, **__: Any) -> Any:
        return fail()

    monkeypatch.setattr(resolvers.customers, "resolve_customer", explode)
    # The direct lane's lookup fails first, and hands the request to the executor.
    monkeypatch.setattr(schema.direct.run, "customer_lookup", lambda **_: fail())
    query = 'query { viewer { scopes } customer(handle: "x") { id } }'
    body = assert_masked(await tenant.api.post(query))
    assert str(tenant.id) not in str(body)
    # The failure stays local to its field: the rest of the answer is there.
    assert body["data"]["customer"] is None
    assert body["data"]["viewer"]["scopes"]


async def test_exception_in_mutation_is_masked(
    tenant: TenantHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def explode(*_: Any, **__: Any) -> Any:
        raise RuntimeError(SECRET)

    monkeypatch.setattr(resolvers.customers, "create_customer", explode)
    body = assert_masked(await tenant.api.post(CREATE_ID, {"input": {"displayName": "X"}}))
    assert body["data"] is None


async def test_expected_errors_are_not_masked(tenant: TenantHandle) -> None:
    body = await tenant.api.gql('{ node(id: "not a global id!") { id } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["message"] != "Internal server error"


ID_READS = [
    ("query($id: ID!) { node(id: $id) { id } }", "node"),
    ("query($id: ID!) { nodes(ids: [$id]) { id } }", "nodes"),
    ("query($id: ID!) { customer(id: $id) { id } }", "customer"),
    ("query($id: ID!) { customers(ids: [$id]) { nodes { id } } }", "customers"),
    (
        'query($id: ID!) { _entities(representations: [{__typename: "Customer", id: $id}]) '
        "{ ... on Customer { id } } }",
        "_entities",
    ),
    (
        "mutation($id: ID!) { archiveCustomer(input: {id: $id}) "
        "{ customer { id } userErrors { code } } }",
        "archiveCustomer",
    ),
]
NON_ASCII_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")  # Arabic-Indic digits


@pytest.mark.parametrize(("query", "field"), ID_READS, ids=[field for _, field in ID_READS])
@pytest.mark.parametrize("key", ["²", "1²"], ids=["superscript", "digit-superscript"])
async def test_ids_with_non_ascii_digits_are_not_a_crash(
    tenant: TenantHandle, query: str, field: str, key: str
) -> None:
    """`str.isdigit()` accepts "²", which `int()` refuses: malformed, never a 500."""
    body = await tenant.api.gql(query, {"id": encode_global_id("Customer", key)})
    for error in body.get("errors", []):
        assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    answer = (body.get("data") or {}).get(field)
    not_found = answer in (None, [None], {"nodes": []})
    assert not_found or (isinstance(answer, dict) and answer["customer"] is None), body


@pytest.mark.parametrize(("query", "field"), ID_READS, ids=[field for _, field in ID_READS])
async def test_ids_with_other_digits_do_not_alias_real_ids(
    tenant: TenantHandle, query: str, field: str
) -> None:
    """`Customer:١٢` is not `Customer:12`: an ID that is not ours finds nothing."""
    customer = await create_customer(tenant.api, email="alias-target@example.com")
    _, key = decode_global_id(customer["id"])
    lookalike = encode_global_id("Customer", key.translate(NON_ASCII_DIGITS))
    body = await tenant.api.gql(query, {"id": lookalike})
    for error in body.get("errors", []):
        assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    assert customer["id"] not in str(body.get("data")), body
    # Nothing happened to the customer either.
    still = await tenant.api.data(
        "query($id: ID!) { node(id: $id) { ... on Customer { isArchived } } }",
        {"id": customer["id"]},
    )
    assert still["node"] == {"isArchived": False}


# ---------------------------------------------------------------- transport


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"", b'{"query": ', b'"a string"', b"42", b"null", b"true", b"[1, 2]"],
)
async def test_malformed_json_body_is_400(
    client: httpx.AsyncClient, tenant: TenantHandle, content: bytes
) -> None:
    headers = {"Authorization": f"Bearer {tenant.key}", "Content-Type": "application/json"}
    response = await client.post("/graphql", content=content, headers=headers)
    assert response.status_code == 400, response.text
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"query": 42},
        {"query": VIEWER, "variables": [1]},
        {"query": VIEWER, "variables": "x"},
    ],
)
async def test_malformed_graphql_request_is_400(
    client: httpx.AsyncClient, tenant: TenantHandle, body: dict[str, Any]
) -> None:
    headers = {"Authorization": f"Bearer {tenant.key}"}
    response = await client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 400, response.text


async def test_get_query_works(client: httpx.AsyncClient, tenant: TenantHandle) -> None:
    response = await client.get(
        "/graphql", params={"query": "{viewer{scopes}}"}, headers={"X-Api-Key": tenant.key}
    )
    assert response.status_code == 200, response.text
    scopes = response.json()["data"]["viewer"]["scopes"]
    assert "read:customers" in scopes


async def test_get_query_needs_a_key(client: httpx.AsyncClient) -> None:
    assert_unauthenticated(await client.get("/graphql", params={"query": "{viewer{scopes}}"}))


async def test_get_query_with_variables(client: httpx.AsyncClient, tenant: TenantHandle) -> None:
    customer = await create_customer(tenant.api, email="get@example.com")
    response = await client.get(
        "/graphql",
        params={
            "query": "query($id: ID!) { customer(id: $id) { email } }",
            "variables": f'{{"id": "{customer["id"]}"}}',
        },
        headers={"Authorization": f"Bearer {tenant.key}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"customer": {"email": "get@example.com"}}


@pytest.mark.parametrize("variables", ["{bad json", '"a string"', "[1]", "42"])
async def test_get_query_with_malformed_variables_is_400(
    client: httpx.AsyncClient, tenant: TenantHandle, variables: str
) -> None:
    response = await client.get(
        "/graphql",
        params={"query": "query($id: ID!) { customer(id: $id) { id } }", "variables": variables},
        headers={"X-Api-Key": tenant.key},
    )
    assert response.status_code == 400, response.text


async def test_mutation_via_get_is_refused(client: httpx.AsyncClient, tenant: TenantHandle) -> None:
    email = f"via-get-{uuid.uuid4().hex[:8]}@example.com"
    mutation = (
        f'mutation {{ createCustomer(input: {{displayName: "Via GET", email: "{email}"}}) '
        "{ customer { id } } }"
    )
    response = await client.get(
        "/graphql", params={"query": mutation}, headers={"X-Api-Key": tenant.key}
    )
    # GraphQL over HTTP: a mutation over GET is 405 Method Not Allowed, not executed.
    assert response.status_code == 405, response.text
    assert await customer_count(tenant.api, email) == 0
