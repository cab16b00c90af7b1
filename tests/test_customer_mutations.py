"""Customer mutations over HTTP against the real app (API.md, Customers and Errors).

Every test gets a fresh tenant, so counts and uniqueness are deterministic; each runs on
SQLite and on PostgreSQL. Assertions are on the response JSON only.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from conftest import Api, TenantHandle
from helpers import CREATE, CUSTOMER_FIELDS, create_customer, create_customer_errors

from domain.ids import encode_global_id

PAYLOAD = f"customer {{ {CUSTOMER_FIELDS} }} userErrors {{ field message code }}"
INPUT_TYPES = {
    "createCustomer": "CreateCustomerInput",
    "updateCustomer": "UpdateCustomerInput",
    "setCustomerName": "SetCustomerNameInput",
    "setCustomerIngestAliases": "SetCustomerIngestAliasesInput",
    "updateCustomerConfig": "UpdateCustomerConfigInput",
    "archiveCustomer": "ArchiveCustomerInput",
    "restoreCustomer": "RestoreCustomerInput",
}
READ = f"query($id: ID!) {{ customer(id: $id) {{ {CUSTOMER_FIELDS} }} }}"
NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on Customer {{ {CUSTOMER_FIELDS} }} }} }}"
LIST = """
query($archived: ArchivedFilter, $ingestAlias: String) {
  customers(first: 100, archived: $archived, ingestAlias: $ingestAlias) {
    totalCount
    nodes { id }
  }
}
"""
BY_KEY = """
query($handle: String, $externalId: String, $ingestAlias: String) {
  customer(handle: $handle, externalId: $externalId, ingestAlias: $ingestAlias) { id }
}
"""

BILLING_CONFIG = {
    "billingProviderType": "AWS_MARKETPLACE",
    "billingProviderCustomerId": "aws-cust-1",
    "stripeCollectionMethod": None,
    "awsProductCode": "prod-abc",
    "awsRegion": "us-east-1",
    "awsIsSubscriptionProduct": True,
}
PROVIDER_CONFIGURATIONS = [
    {
        "billingProvider": "STRIPE",
        "deliveryMethod": "DIRECT_TO_BILLING_PROVIDER",
        "deliveryMethodId": None,
        "configuration": {
            "stripe_customer_id": "cus_123",
            "nested": {"list": [1, 2.5, "three", None, True], "empty": {}},
            "leave_in_draft": False,
        },
    },
    {
        "billingProvider": "AWS_MARKETPLACE",
        "deliveryMethod": "AWS_SQS",
        "deliveryMethodId": "queue-7",
        "configuration": {"region": "eu-west-1"},
    },
]
FULL_INPUT: dict[str, Any] = {
    "handle": "acme-corp",
    "externalId": "ext-acme",
    "ingestAliases": ["acme-alias-1", "acme-alias-2"],
    "accountType": "INDIVIDUAL",
    "displayName": "Acme Display",
    "companyName": "Acme Corp",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "email": "ada@acme.example",
    "phone": "+1 (555) 010-2000",
    "countryCode": "DE",
    "currency": "EUR",
    "locale": "de-DE",
    "timezone": "Europe/Berlin",
    "industry": "Manufacturing",
    "description": "A customer with every field set.",
    "runbook": "# Runbook\nCall Ada.",
    "customFields": [{"key": "plan_tier", "value": "gold"}, {"key": "region", "value": "emea"}],
    "billingConfig": BILLING_CONFIG,
    "billingProviderConfigurations": PROVIDER_CONFIGURATIONS,
    "config": {"salesforceAccountId": "0015000000XyZ", "leaveStripeInvoicesInDraft": True},
    "stripeCustomerId": "cus_123",
}


# ---------------------------------------------------------------- helpers


async def mutate(api: Api, operation: str, **fields: Any) -> dict[str, Any]:
    """The payload of one customer mutation (a response without GraphQL errors)."""
    document = (
        f"mutation($input: {INPUT_TYPES[operation]}!) "
        f"{{ {operation}(input: $input) {{ {PAYLOAD} }} }}"
    )
    data = await api.data(document, {"input": fields})
    payload: dict[str, Any] = data[operation]
    return payload


async def succeed(api: Api, operation: str, **fields: Any) -> dict[str, Any]:
    """A mutation that must succeed; returns its customer."""
    payload = await mutate(api, operation, **fields)
    assert payload["userErrors"] == [], payload["userErrors"]
    customer: dict[str, Any] = payload["customer"]
    assert customer is not None
    return customer


async def fail(api: Api, operation: str, **fields: Any) -> list[tuple[str, list[str]]]:
    """A mutation that must answer userErrors and no customer; returns (code, field) pairs."""
    payload = await mutate(api, operation, **fields)
    assert payload["customer"] is None, payload
    return pairs(payload["userErrors"])


def pairs(errors: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    assert errors, "expected userErrors"
    for error in errors:
        assert isinstance(error["message"], str)
        assert error["message"]
    return [(error["code"], error["field"]) for error in errors]


async def read(api: Api, customer_id: str) -> dict[str, Any]:
    data = await api.data(READ, {"id": customer_id})
    customer: dict[str, Any] = data["customer"]
    assert customer is not None, f"customer {customer_id} not readable"
    return customer


async def listed(api: Api, archived: str = "ACTIVE", ingest_alias: str | None = None) -> list[str]:
    """IDs in customers(archived:, ingestAlias:), checking totalCount agrees."""
    data = await api.data(LIST, {"archived": archived, "ingestAlias": ingest_alias})
    connection = data["customers"]
    ids = [node["id"] for node in connection["nodes"]]
    assert connection["totalCount"] == len(ids)
    return ids


async def found_by(api: Api, **key: str) -> str | None:
    data = await api.data(BY_KEY, key)
    customer = data["customer"]
    return None if customer is None else str(customer["id"])


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def without_aliases(customer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in customer.items() if k != "ingestAliases"}


# ---------------------------------------------------------------- createCustomer


async def test_create_customer_requires_a_name(tenant: TenantHandle) -> None:
    errors = await create_customer_errors(tenant.api, email="noname@example.com")
    assert pairs(errors) == [("REQUIRED", ["input", "displayName"])]
    errors = await create_customer_errors(tenant.api, companyName="   ", lastName="")
    assert pairs(errors) == [("REQUIRED", ["input", "displayName"])]
    errors = await create_customer_errors(tenant.api, displayName="   ")
    assert ("REQUIRED", ["input", "displayName"]) in pairs(errors)
    assert await listed(tenant.api, "ALL") == []


async def test_create_customer_derives_display_name(tenant: TenantHandle) -> None:
    api = tenant.api
    company = await succeed(
        api, "createCustomer", companyName="Acme GmbH", firstName="Ada", lastName="Lovelace"
    )
    assert company["displayName"] == "Acme GmbH"
    person = await succeed(api, "createCustomer", firstName="Ada", lastName="Lovelace")
    assert person["displayName"] == "Ada Lovelace"
    assert (person["firstName"], person["lastName"]) == ("Ada", "Lovelace")
    given = await succeed(api, "createCustomer", displayName="Given", companyName="Acme GmbH")
    assert given["displayName"] == "Given"


async def test_create_customer_explicit_nulls_act_as_omitted(tenant: TenantHandle) -> None:
    # Clients that send every variable send null for what they leave unset.
    customer = await succeed(
        tenant.api,
        "createCustomer",
        displayName=None,
        companyName="Acme",
        accountType=None,
        email=None,
        customFields=None,
        config=None,
    )
    assert customer["displayName"] == "Acme"
    assert customer["accountType"] == "BUSINESS"
    assert customer["email"] is None
    assert customer["customFields"] == []
    assert customer["config"] == {"salesforceAccountId": None, "leaveStripeInvoicesInDraft": None}
    person = await succeed(
        tenant.api, "createCustomer", displayName=None, firstName="Ada", lastName="Lovelace"
    )
    assert person["displayName"] == "Ada Lovelace"


async def test_create_customer_truncates_display_name_at_160(tenant: TenantHandle) -> None:
    long_name = "N" * 150 + "0123456789abcdefghij"
    customer = await succeed(tenant.api, "createCustomer", displayName=long_name)
    assert customer["displayName"] == long_name[:160]
    assert len((await read(tenant.api, customer["id"]))["displayName"]) == 160

    company = "C" * 200
    derived = await succeed(tenant.api, "createCustomer", companyName=company)
    assert derived["displayName"] == "C" * 160
    assert derived["companyName"] == company


async def test_create_customer_company_name_too_long(tenant: TenantHandle) -> None:
    errors = await create_customer_errors(tenant.api, displayName="X", companyName="C" * 201)
    assert pairs(errors) == [("TOO_LONG", ["input", "companyName"])]
    assert await listed(tenant.api, "ALL") == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("email", "two@@example.com"),
        ("handle", "-leading-dash"),
        ("handle", "has space"),
        ("handle", "dots.not.allowed"),
        ("countryCode", "ZZ"),
        ("countryCode", "DEU"),
        ("currency", "ZZZ"),
        ("currency", "EURO"),
        ("timezone", "Mars/Olympus_Mons"),
        ("timezone", "CEST"),
        ("locale", "not a locale"),
        ("locale", "123"),
    ],
)
async def test_create_customer_invalid_field(tenant: TenantHandle, field: str, value: str) -> None:
    errors = await create_customer_errors(tenant.api, displayName="X", **{field: value})
    assert pairs(errors) == [("INVALID", ["input", field])]
    assert await listed(tenant.api, "ALL") == []


async def test_create_customer_duplicate_custom_field_key(tenant: TenantHandle) -> None:
    fields = [
        {"key": "tier", "value": "gold"},
        {"key": "region", "value": "emea"},
        {"key": "tier", "value": "silver"},
    ]
    errors = await create_customer_errors(tenant.api, displayName="X", customFields=fields)
    assert pairs(errors) == [("INVALID", ["input", "customFields", "2", "key"])]
    assert await listed(tenant.api, "ALL") == []


async def test_create_customer_duplicate_alias(tenant: TenantHandle) -> None:
    errors = await create_customer_errors(
        tenant.api, displayName="X", ingestAliases=["alpha", "beta", "ALPHA"]
    )
    assert pairs(errors) == [("INVALID", ["input", "ingestAliases", "2"])]
    assert await listed(tenant.api, "ALL") == []


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"displayName": "Ac\x00me"}, ["input", "displayName"]),
        ({"companyName": "Ac\x00me"}, ["input", "companyName"]),
        ({"firstName": "A\x00"}, ["input", "firstName"]),
        ({"email": "a\x00b@example.com"}, ["input", "email"]),
        ({"handle": "ab\x00c"}, ["input", "handle"]),
        ({"externalId": "ext\x00"}, ["input", "externalId"]),
        ({"phone": "+1 555\x00"}, ["input", "phone"]),
        ({"countryCode": "D\x00"}, ["input", "countryCode"]),
        ({"currency": "EU\x00"}, ["input", "currency"]),
        ({"locale": "de\x00"}, ["input", "locale"]),
        ({"timezone": "Europe/Berlin\x00"}, ["input", "timezone"]),
        ({"industry": "\x00"}, ["input", "industry"]),
        ({"description": "line\x00"}, ["input", "description"]),
        ({"runbook": "\x00"}, ["input", "runbook"]),
        ({"stripeCustomerId": "cus\x00"}, ["input", "stripeCustomerId"]),
        ({"ingestAliases": ["ok", "a\x00"]}, ["input", "ingestAliases", "1"]),
        ({"customFields": [{"key": "k\x00", "value": "v"}]}, ["input", "customFields", "0", "key"]),
        (
            {"customFields": [{"key": "k", "value": "v\x00"}]},
            ["input", "customFields", "0", "value"],
        ),
        (
            {
                "billingConfig": {
                    "billingProviderType": "STRIPE",
                    "billingProviderCustomerId": "\x00",
                }
            },
            ["input", "billingConfig", "billingProviderCustomerId"],
        ),
        (
            {
                "billingProviderConfigurations": [
                    {"billingProvider": "CUSTOM", "deliveryMethodId": "\x00"}
                ]
            },
            ["input", "billingProviderConfigurations", "0", "deliveryMethodId"],
        ),
        (
            {
                "billingProviderConfigurations": [
                    {"billingProvider": "CUSTOM", "configuration": {"k": "v\x00"}}
                ]
            },
            ["input", "billingProviderConfigurations", "0", "configuration"],
        ),
        (
            {
                "billingProviderConfigurations": [
                    {"billingProvider": "CUSTOM", "configuration": {"a": [{"k\x00": 1}]}}
                ]
            },
            ["input", "billingProviderConfigurations", "0", "configuration"],
        ),
        ({"config": {"salesforceAccountId": "sf\x00"}}, ["input", "config", "salesforceAccountId"]),
    ],
)
async def test_create_customer_nul_byte_is_invalid(
    tenant: TenantHandle, extra: dict[str, Any], field: list[str]
) -> None:
    fields = {"displayName": "X", **extra}
    response = await tenant.api.post(CREATE, {"input": fields})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    payload = body["data"]["createCustomer"]
    assert payload["customer"] is None
    assert pairs(payload["userErrors"]) == [("INVALID", field)]
    assert await listed(tenant.api, "ALL") == []


CREATE_LITERAL = f"""
mutation {{
  createCustomer(input: {{
    displayName: "X"
    billingProviderConfigurations: [{{ billingProvider: CUSTOM, configuration: %s }}]
  }}) {{ {PAYLOAD} }}
}}
"""


@pytest.mark.parametrize(
    "literal",
    ["{ big: 123456789012345678901234567890 }", "{ inf: 1e400 }", '{ nul: "a\\u0000b" }'],
)
async def test_create_customer_unstorable_configuration_is_invalid(
    tenant: TenantHandle, literal: str
) -> None:
    body = await tenant.api.gql(CREATE_LITERAL % literal)
    assert "errors" not in body, body["errors"]
    payload = body["data"]["createCustomer"]
    assert payload["customer"] is None
    path = ["input", "billingProviderConfigurations", "0", "configuration"]
    assert pairs(payload["userErrors"]) == [("INVALID", path)]
    assert await listed(tenant.api, "ALL") == []


async def test_create_customer_lone_surrogate_is_rejected_not_500(tenant: TenantHandle) -> None:
    # Not valid Unicode: refused as a bad request (never a 500), and nothing written.
    fields = {
        "displayName": "X",
        "description": "bad \ud800 text",
        "billingProviderConfigurations": [
            {"billingProvider": "CUSTOM", "configuration": {"k": "\udfff"}}
        ],
    }
    body = json.dumps({"query": CREATE, "variables": {"input": fields}})  # ASCII escapes
    response = await tenant.api.http.post(
        "/graphql",
        content=body.encode("ascii"),
        headers={"Authorization": f"Bearer {tenant.key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert await listed(tenant.api, "ALL") == []


@pytest.mark.parametrize(
    ("field", "first", "second", "path"),
    [
        ("email", "taken@example.com", "TAKEN@Example.COM", ["input", "email"]),
        ("handle", "acme-corp", "ACME-Corp", ["input", "handle"]),
        ("externalId", "ext-42", "EXT-42", ["input", "externalId"]),
        ("ingestAliases", ["alias-a", "alias-b"], ["other", "Alias-B"], ["input", "ingestAliases"]),
    ],
)
async def test_create_customer_taken_case_insensitively(
    tenant: TenantHandle, field: str, first: Any, second: Any, path: list[str]
) -> None:
    api = tenant.api
    holder = await create_customer(api, **{field: first})
    payload = await mutate(api, "createCustomer", displayName="Second", **{field: second})
    assert payload["customer"] is None
    errors = pairs(payload["userErrors"])
    assert len(errors) == 1
    code, error_field = errors[0]
    assert code == "TAKEN"
    assert error_field[:2] == path
    assert await listed(api, "ALL") == [holder["id"]]
    if field == "ingestAliases":
        # The alias that did not clash was not written either.
        assert await listed(api, ingest_alias="other") == []


async def test_create_customer_reports_several_problems_together(tenant: TenantHandle) -> None:
    errors = await create_customer_errors(
        tenant.api,
        email="nope",
        handle="-bad",
        countryCode="ZZ",
        currency="ZZZ",
        timezone="Nowhere/Land",
        locale="not a locale",
        customFields=[{"key": "k", "value": "1"}, {"key": "k", "value": "2"}],
        ingestAliases=["x", "x"],
    )
    assert sorted(pairs(errors)) == sorted(
        [
            ("INVALID", ["input", "email"]),
            ("INVALID", ["input", "handle"]),
            ("INVALID", ["input", "countryCode"]),
            ("INVALID", ["input", "currency"]),
            ("INVALID", ["input", "timezone"]),
            ("INVALID", ["input", "locale"]),
            ("INVALID", ["input", "customFields", "1", "key"]),
            ("INVALID", ["input", "ingestAliases", "1"]),
            ("REQUIRED", ["input", "displayName"]),
        ]
    )
    errors = await create_customer_errors(
        tenant.api, companyName="C" * 201, email="bad", description="\x00"
    )
    assert sorted(pairs(errors)) == [
        ("INVALID", ["input", "description"]),
        ("INVALID", ["input", "email"]),
        ("TOO_LONG", ["input", "companyName"]),
    ]


async def test_create_customer_writes_nothing_after_user_error(tenant: TenantHandle) -> None:
    api = tenant.api
    existing = await create_customer(
        api, email="held@example.com", handle="held", externalId="held-ext", ingestAliases=["held"]
    )
    attempts: list[dict[str, Any]] = [
        {"email": "bad"},
        {"displayName": None},
        {"companyName": "C" * 201},
        {"email": "fresh@example.com", "handle": "fresh", "ingestAliases": ["fresh", "HELD"]},
        {"email": "fresh@example.com", "handle": "HELD"},
        {"email": "fresh@example.com", "externalId": "HELD-EXT"},
        {"email": "HELD@example.com", "handle": "fresh"},
    ]
    for attempt in attempts:
        payload = await mutate(api, "createCustomer", **attempt)
        assert payload["customer"] is None, attempt
        assert payload["userErrors"], attempt
        assert await listed(api, "ALL") == [existing["id"]], attempt
    # Nothing of the failed attempts lingers: their values are still free.
    assert await listed(api, ingest_alias="fresh") == []
    fresh = await create_customer(
        api, email="fresh@example.com", handle="fresh", ingestAliases=["fresh"]
    )
    assert sorted(await listed(api, "ALL")) == sorted([existing["id"], fresh["id"]])
    assert await read(api, existing["id"]) == existing


async def test_create_customer_round_trips_every_field(tenant: TenantHandle) -> None:
    api = tenant.api
    created = await succeed(api, "createCustomer", **FULL_INPUT)
    expected = {
        **{k: v for k, v in FULL_INPUT.items() if k != "config"},
        "config": FULL_INPUT["config"],
        "version": 1,
        "archivedAt": None,
        "isArchived": False,
    }
    for key, value in expected.items():
        assert created[key] == value, key
    assert created["billableStatus"]["value"] == "BILLABLE"
    assert created["createdAt"] == created["updatedAt"]
    assert created["createdAt"].endswith("Z")
    assert await read(api, created["id"]) == created
    node = (await api.data(NODE, {"id": created["id"]}))["node"]
    assert node == created


async def test_create_customer_minimal_defaults(tenant: TenantHandle) -> None:
    customer = await succeed(tenant.api, "createCustomer", displayName="Minimal")
    assert customer["accountType"] == "BUSINESS"
    assert customer["ingestAliases"] == []
    assert customer["customFields"] == []
    assert customer["billingConfig"] is None
    assert customer["billingProviderConfigurations"] == []
    assert customer["config"] == {"salesforceAccountId": None, "leaveStripeInvoicesInDraft": None}
    assert customer["billableStatus"]["value"] == "BILLABLE"
    assert customer["version"] == 1


async def test_create_customer_provider_configuration_without_configuration(
    tenant: TenantHandle,
) -> None:
    customer = await succeed(
        tenant.api,
        "createCustomer",
        displayName="X",
        billingProviderConfigurations=[{"billingProvider": "NETSUITE"}],
        billingConfig={"billingProviderType": "STRIPE", "billingProviderCustomerId": "cus_1"},
    )
    assert customer["billingProviderConfigurations"] == [
        {
            "billingProvider": "NETSUITE",
            "deliveryMethod": None,
            "deliveryMethodId": None,
            "configuration": {},
        }
    ]
    assert customer["billingConfig"] == {
        "billingProviderType": "STRIPE",
        "billingProviderCustomerId": "cus_1",
        "stripeCollectionMethod": None,
        "awsProductCode": None,
        "awsRegion": None,
        "awsIsSubscriptionProduct": None,
    }


async def test_create_customer_normalises_country_and_currency(tenant: TenantHandle) -> None:
    customer = await succeed(
        tenant.api, "createCustomer", displayName="X", countryCode="de", currency="eUr"
    )
    assert (customer["countryCode"], customer["currency"]) == ("DE", "EUR")
    stored = await read(tenant.api, customer["id"])
    assert (stored["countryCode"], stored["currency"]) == ("DE", "EUR")


# ---------------------------------------------------------------- updateCustomer


async def test_update_customer_omitted_unchanged_null_clears(tenant: TenantHandle) -> None:
    api = tenant.api
    created = await succeed(api, "createCustomer", **FULL_INPUT)
    updated = await succeed(
        api,
        "updateCustomer",
        id=created["id"],
        phone="+44 20 7946 0000",
        description=None,
        customFields=None,
        billingConfig=None,
        billingProviderConfigurations=None,
        handle=None,
    )
    assert updated["phone"] == "+44 20 7946 0000"
    assert updated["description"] is None
    assert updated["customFields"] == []
    assert updated["billingConfig"] is None
    assert updated["billingProviderConfigurations"] == []
    assert updated["handle"] is None
    unchanged = {
        "phone",
        "description",
        "customFields",
        "billingConfig",
        "billingProviderConfigurations",
        "handle",
        "version",
        "updatedAt",
    }
    for key, value in created.items():
        if key not in unchanged:
            assert updated[key] == value, key
    assert updated["version"] == created["version"] + 1
    assert await read(api, created["id"]) == updated


async def test_update_customer_mask_camel_and_snake_case(tenant: TenantHandle) -> None:
    api = tenant.api
    created = await succeed(api, "createCustomer", **FULL_INPUT)
    updated = await succeed(
        api,
        "updateCustomer",
        id=created["id"],
        updateMask=["description", "company_name", "stripe_customer_id"],
        description="New description",
        companyName="New Company",
        stripeCustomerId="cus_999",
        industry="Not in the mask",
        email="not-in-mask@example.com",
    )
    assert updated["description"] == "New description"
    assert updated["companyName"] == "New Company"
    assert updated["stripeCustomerId"] == "cus_999"
    assert updated["industry"] == created["industry"]
    assert updated["email"] == created["email"]
    assert updated["version"] == 2
    assert await read(api, created["id"]) == updated


async def test_update_customer_mask_listed_field_not_given_is_cleared(
    tenant: TenantHandle,
) -> None:
    api = tenant.api
    created = await succeed(api, "createCustomer", **FULL_INPUT)
    updated = await succeed(
        api,
        "updateCustomer",
        id=created["id"],
        updateMask=["runbook", "custom_fields", "billingConfig", "external_id"],
    )
    assert updated["runbook"] is None
    assert updated["customFields"] == []
    assert updated["billingConfig"] is None
    assert updated["externalId"] is None
    assert updated["description"] == created["description"]
    assert updated["handle"] == created["handle"]
    assert await read(api, created["id"]) == updated


async def test_update_customer_mask_unknown_name_is_invalid(tenant: TenantHandle) -> None:
    api = tenant.api
    created = await succeed(api, "createCustomer", **FULL_INPUT)
    for mask in (["description", "colour"], ["config"], ["id"], ["display-name"]):
        errors = await fail(
            api, "updateCustomer", id=created["id"], updateMask=mask, description="changed"
        )
        assert errors == [("INVALID", ["input", "updateMask"])], mask
    assert await read(api, created["id"]) == created


async def test_update_customer_mask_star_replaces_everything(tenant: TenantHandle) -> None:
    api = tenant.api
    created = await succeed(api, "createCustomer", **FULL_INPUT)
    updated = await succeed(
        api,
        "updateCustomer",
        id=created["id"],
        updateMask=["*"],
        displayName="Only Name",
        accountType="BUSINESS",
        billableStatus="BILLABLE",
        email="only@example.com",
    )
    assert updated["displayName"] == "Only Name"
    assert updated["email"] == "only@example.com"
    assert updated["accountType"] == "BUSINESS"
    for key in (
        "handle",
        "externalId",
        "companyName",
        "firstName",
        "lastName",
        "phone",
        "countryCode",
        "currency",
        "locale",
        "timezone",
        "industry",
        "description",
        "runbook",
        "billingConfig",
        "stripeCustomerId",
    ):
        assert updated[key] is None, key
    assert updated["customFields"] == []
    assert updated["billingProviderConfigurations"] == []
    # Not updatable by updateCustomer: ingest aliases and customer config stay.
    assert updated["ingestAliases"] == created["ingestAliases"]
    assert updated["config"] == created["config"]
    assert await read(api, created["id"]) == updated


async def test_update_customer_expected_version_conflict(tenant: TenantHandle) -> None:
    api = tenant.api
    created = await succeed(api, "createCustomer", displayName="Versioned")
    for stale in (0, 2, 99):
        errors = await fail(
            api, "updateCustomer", id=created["id"], expectedVersion=stale, displayName="Changed"
        )
        assert errors == [("CONFLICT", ["input", "expectedVersion"])]
    assert await read(api, created["id"]) == created
    updated = await succeed(
        api, "updateCustomer", id=created["id"], expectedVersion=1, displayName="Changed"
    )
    assert (updated["displayName"], updated["version"]) == ("Changed", 2)
    errors = await fail(
        api, "updateCustomer", id=created["id"], expectedVersion=1, displayName="Again"
    )
    assert errors == [("CONFLICT", ["input", "expectedVersion"])]
    assert await read(api, created["id"]) == updated


async def test_update_customer_every_change_bumps_version_and_updated_at(
    tenant: TenantHandle,
) -> None:
    api = tenant.api
    customer = await succeed(api, "createCustomer", displayName="Bumpy")
    changes: list[tuple[str, dict[str, Any]]] = [
        ("updateCustomer", {"description": "one"}),
        ("updateCustomer", {"email": "bumpy@example.com", "countryCode": "fr"}),
        ("setCustomerName", {"name": "Bumpy Two"}),
        ("setCustomerIngestAliases", {"ingestAliases": ["bumpy"]}),
        ("updateCustomerConfig", {"salesforceAccountId": "sf-1"}),
        ("updateCustomer", {"description": None}),
    ]
    for operation, fields in changes:
        changed = await succeed(api, operation, id=customer["id"], **fields)
        assert changed["version"] == customer["version"] + 1, operation
        assert at(changed["updatedAt"]) > at(customer["updatedAt"]), operation
        assert changed["createdAt"] == customer["createdAt"]
        assert await read(api, customer["id"]) == changed
        customer = changed
    assert customer["version"] == 1 + len(changes)


async def test_update_customer_clearing_display_name_is_required(tenant: TenantHandle) -> None:
    api = tenant.api
    created = await succeed(api, "createCustomer", displayName="Named", companyName="Co")
    attempts: list[dict[str, Any]] = [
        {"displayName": None},
        {"displayName": "   "},
        {"updateMask": ["displayName"]},
        {"updateMask": ["display_name"], "description": "x"},
    ]
    for attempt in attempts:
        errors = await fail(api, "updateCustomer", id=created["id"], **attempt)
        assert errors == [("REQUIRED", ["input", "displayName"])], attempt
    assert await read(api, created["id"]) == created


async def test_update_customer_truncates_display_name(tenant: TenantHandle) -> None:
    created = await succeed(tenant.api, "createCustomer", displayName="Short")
    updated = await succeed(tenant.api, "updateCustomer", id=created["id"], displayName="L" * 300)
    assert updated["displayName"] == "L" * 160


async def test_update_customer_validates_like_create(tenant: TenantHandle) -> None:
    api = tenant.api
    created = await succeed(api, "createCustomer", displayName="X")
    errors = await fail(
        api,
        "updateCustomer",
        id=created["id"],
        email="bad",
        countryCode="ZZ",
        companyName="C" * 201,
        description="nul\x00",
    )
    assert sorted(errors) == [
        ("INVALID", ["input", "countryCode"]),
        ("INVALID", ["input", "description"]),
        ("INVALID", ["input", "email"]),
        ("TOO_LONG", ["input", "companyName"]),
    ]
    assert await read(api, created["id"]) == created
    normalised = await succeed(api, "updateCustomer", id=created["id"], currency="jpy")
    assert normalised["currency"] == "JPY"


async def test_update_customer_billable_status_change_moves_effective_at(
    tenant: TenantHandle,
) -> None:
    api = tenant.api
    created = await succeed(api, "createCustomer", displayName="Billable")
    first = created["billableStatus"]
    other = await succeed(api, "updateCustomer", id=created["id"], description="unrelated")
    assert other["billableStatus"] == first
    changed = await succeed(api, "updateCustomer", id=created["id"], billableStatus="UNBILLABLE")
    assert changed["billableStatus"]["value"] == "UNBILLABLE"
    assert at(changed["billableStatus"]["effectiveAt"]) > at(first["effectiveAt"])
    assert (await read(api, created["id"]))["billableStatus"] == changed["billableStatus"]
    back = await succeed(api, "updateCustomer", id=created["id"], billableStatus="BILLABLE")
    assert back["billableStatus"]["value"] == "BILLABLE"
    assert at(back["billableStatus"]["effectiveAt"]) > at(changed["billableStatus"]["effectiveAt"])


async def test_update_customer_same_billable_status_keeps_effective_at(
    tenant: TenantHandle,
) -> None:
    api = tenant.api
    created = await succeed(api, "createCustomer", displayName="Billable")
    same = await succeed(
        api, "updateCustomer", id=created["id"], billableStatus="BILLABLE", description="d"
    )
    assert same["billableStatus"] == created["billableStatus"]


async def test_update_customer_not_found(tenant: TenantHandle, other_tenant: TenantHandle) -> None:
    api = tenant.api
    foreign = await succeed(other_tenant.api, "createCustomer", displayName="Foreign")
    viewer = await api.data("{ viewer { tenant { id } } }")
    tenant_id = viewer["viewer"]["tenant"]["id"]
    for missing in (foreign["id"], tenant_id, encode_global_id("Customer", 987_654_321)):
        errors = await fail(api, "updateCustomer", id=missing, displayName="Hijacked")
        assert errors == [("NOT_FOUND", ["input", "id"])], missing
    assert await read(other_tenant.api, foreign["id"]) == foreign


async def test_update_customer_email_taken_case_insensitively(tenant: TenantHandle) -> None:
    api = tenant.api
    holder = await succeed(api, "createCustomer", displayName="Holder", email="holder@example.com")
    other = await succeed(api, "createCustomer", displayName="Other", email="other@example.com")
    errors = await fail(
        api, "updateCustomer", id=other["id"], email="HOLDER@Example.com", displayName="Renamed"
    )
    assert errors == [("TAKEN", ["input", "email"])]
    assert await read(api, other["id"]) == other
    assert await read(api, holder["id"]) == holder
    for field, value in (("handle", "HOLDER-H"), ("externalId", "HOLDER-X")):
        await succeed(api, "updateCustomer", id=holder["id"], **{field: value.lower()})
        before = await read(api, other["id"])
        errors = await fail(api, "updateCustomer", id=other["id"], **{field: value})
        assert errors == [("TAKEN", ["input", field])]
        assert await read(api, other["id"]) == before


# ---------------------------------------------------------------- setCustomerName


async def test_set_customer_name_truncates_and_bumps_version(tenant: TenantHandle) -> None:
    api = tenant.api
    created = await succeed(api, "createCustomer", displayName="Before")
    name = "M" * 155 + "0123456789"
    renamed = await succeed(api, "setCustomerName", id=created["id"], name=name)
    assert renamed["displayName"] == name[:160]
    assert renamed["version"] == 2
    assert at(renamed["updatedAt"]) > at(created["updatedAt"])
    assert await read(api, created["id"]) == renamed
    again = await succeed(api, "setCustomerName", id=created["id"], name="After")
    assert (again["displayName"], again["version"]) == ("After", 3)


async def test_set_customer_name_rejects_empty_and_nul(tenant: TenantHandle) -> None:
    api = tenant.api
    created = await succeed(api, "createCustomer", displayName="Before")
    assert await fail(api, "setCustomerName", id=created["id"], name="  ") == [
        ("REQUIRED", ["input", "name"])
    ]
    assert await fail(api, "setCustomerName", id=created["id"], name="a\x00b") == [
        ("INVALID", ["input", "name"])
    ]
    assert await read(api, created["id"]) == created


# ---------------------------------------------------------------- setCustomerIngestAliases


async def test_set_customer_ingest_aliases_replaces_whole_set(tenant: TenantHandle) -> None:
    api = tenant.api
    created = await succeed(
        api, "createCustomer", displayName="A", ingestAliases=["old-1", "old-2"]
    )
    replaced = await succeed(
        api, "setCustomerIngestAliases", id=created["id"], ingestAliases=["new-1", "old-2", "new-3"]
    )
    assert sorted(replaced["ingestAliases"]) == ["new-1", "new-3", "old-2"]
    assert replaced["version"] == 2
    stored = await read(api, created["id"])
    assert sorted(stored["ingestAliases"]) == ["new-1", "new-3", "old-2"]
    assert await found_by(api, ingestAlias="old-1") is None
    assert await listed(api, ingest_alias="old-1") == []
    for alias in ("new-1", "old-2", "new-3"):
        assert await found_by(api, ingestAlias=alias) == created["id"], alias
        assert await listed(api, ingest_alias=alias) == [created["id"]], alias
    emptied = await succeed(api, "setCustomerIngestAliases", id=created["id"], ingestAliases=[])
    assert emptied["ingestAliases"] == []
    assert await found_by(api, ingestAlias="new-1") is None


async def test_set_customer_ingest_aliases_is_idempotent(tenant: TenantHandle) -> None:
    api = tenant.api
    created = await succeed(api, "createCustomer", displayName="A", ingestAliases=["a"])
    aliases = ["x-1", "x-2", "x-3"]
    first = await succeed(api, "setCustomerIngestAliases", id=created["id"], ingestAliases=aliases)
    second = await succeed(api, "setCustomerIngestAliases", id=created["id"], ingestAliases=aliases)
    assert sorted(first["ingestAliases"]) == aliases
    assert sorted(second["ingestAliases"]) == aliases
    assert first["version"] == 2
    assert second["version"] == 2
    assert second["updatedAt"] == first["updatedAt"]
    assert await read(api, created["id"]) == second


async def test_set_customer_ingest_aliases_taken(tenant: TenantHandle) -> None:
    api = tenant.api
    holder = await succeed(api, "createCustomer", displayName="H", ingestAliases=["shared"])
    other = await succeed(api, "createCustomer", displayName="O", ingestAliases=["mine"])
    payload = await mutate(
        api, "setCustomerIngestAliases", id=other["id"], ingestAliases=["fresh", "SHARED"]
    )
    assert payload["customer"] is None
    errors = pairs(payload["userErrors"])
    assert len(errors) == 1
    assert errors[0][0] == "TAKEN"
    assert errors[0][1][:2] == ["input", "ingestAliases"]
    assert await read(api, other["id"]) == other
    assert await found_by(api, ingestAlias="shared") == holder["id"]
    assert await found_by(api, ingestAlias="fresh") is None
    assert await found_by(api, ingestAlias="mine") == other["id"]


async def test_set_customer_ingest_aliases_rejects_duplicates(tenant: TenantHandle) -> None:
    api = tenant.api
    created = await succeed(api, "createCustomer", displayName="A", ingestAliases=["a"])
    errors = await fail(
        api, "setCustomerIngestAliases", id=created["id"], ingestAliases=["b", "c", "B"]
    )
    assert errors == [("INVALID", ["input", "ingestAliases", "2"])]
    assert await read(api, created["id"]) == created


# ---------------------------------------------------------------- updateCustomerConfig


async def test_update_customer_config_changes_only_given_fields(tenant: TenantHandle) -> None:
    api = tenant.api
    created = await succeed(
        api,
        "createCustomer",
        displayName="Cfg",
        config={"salesforceAccountId": "sf-1", "leaveStripeInvoicesInDraft": True},
    )
    changed = await succeed(
        api, "updateCustomerConfig", id=created["id"], leaveStripeInvoicesInDraft=False
    )
    assert changed["config"] == {"salesforceAccountId": "sf-1", "leaveStripeInvoicesInDraft": False}
    assert changed["version"] == 2
    assert without_aliases(changed) | {"config": None, "version": 0, "updatedAt": ""} == (
        without_aliases(created) | {"config": None, "version": 0, "updatedAt": ""}
    )
    changed = await succeed(
        api, "updateCustomerConfig", id=created["id"], salesforceAccountId="sf-2"
    )
    assert changed["config"] == {"salesforceAccountId": "sf-2", "leaveStripeInvoicesInDraft": False}
    assert changed["version"] == 3
    assert await read(api, created["id"]) == changed


async def test_update_customer_config_null_clears(tenant: TenantHandle) -> None:
    api = tenant.api
    created = await succeed(
        api,
        "createCustomer",
        displayName="Cfg",
        config={"salesforceAccountId": "sf-1", "leaveStripeInvoicesInDraft": True},
    )
    cleared = await succeed(api, "updateCustomerConfig", id=created["id"], salesforceAccountId=None)
    assert cleared["config"] == {"salesforceAccountId": None, "leaveStripeInvoicesInDraft": True}
    cleared = await succeed(
        api, "updateCustomerConfig", id=created["id"], leaveStripeInvoicesInDraft=None
    )
    assert cleared["config"] == {"salesforceAccountId": None, "leaveStripeInvoicesInDraft": None}
    assert await read(api, created["id"]) == cleared
    errors = await fail(api, "updateCustomerConfig", id=created["id"], salesforceAccountId="\x00")
    assert errors == [("INVALID", ["input", "salesforceAccountId"])]


# ---------------------------------------------------------------- archive and restore

UNIQUE_VALUES: dict[str, Any] = {
    "email": "unique@example.com",
    "handle": "unique-handle",
    "externalId": "unique-ext",
    "ingestAliases": ["unique-alias", "second-alias"],
}


async def test_archive_customer_hides_from_list_but_readable_by_id(tenant: TenantHandle) -> None:
    api = tenant.api
    kept = await succeed(api, "createCustomer", displayName="Kept")
    created = await succeed(api, "createCustomer", displayName="Gone", **UNIQUE_VALUES)
    archived = await succeed(api, "archiveCustomer", id=created["id"])
    assert archived["isArchived"] is True
    assert archived["archivedAt"] is not None
    assert at(archived["archivedAt"]) >= at(created["createdAt"])
    assert archived["version"] == created["version"] + 1
    assert await read(api, created["id"]) == archived
    assert (await api.data(NODE, {"id": created["id"]}))["node"] == archived
    assert await listed(api) == [kept["id"]]
    assert await listed(api, "ACTIVE") == [kept["id"]]
    assert await listed(api, "ARCHIVED") == [created["id"]]
    assert sorted(await listed(api, "ALL")) == sorted([kept["id"], created["id"]])
    assert await found_by(api, handle="unique-handle") is None
    assert await found_by(api, externalId="unique-ext") is None
    assert await found_by(api, ingestAlias="unique-alias") is None


async def test_archive_customer_frees_unique_values(tenant: TenantHandle) -> None:
    api = tenant.api
    created = await succeed(api, "createCustomer", displayName="Old", **UNIQUE_VALUES)
    await succeed(api, "archiveCustomer", id=created["id"])
    reused = await succeed(
        api,
        "createCustomer",
        displayName="New",
        email="UNIQUE@example.com",
        handle="Unique-Handle",
        externalId="UNIQUE-EXT",
        ingestAliases=["Unique-Alias", "second-alias"],
    )
    assert await found_by(api, handle="unique-handle") == reused["id"]
    assert await found_by(api, externalId="unique-ext") == reused["id"]
    assert await found_by(api, ingestAlias="second-alias") == reused["id"]
    assert await listed(api, ingest_alias="second-alias") == [reused["id"]]


@pytest.mark.parametrize(
    ("operation", "fields"),
    [
        ("updateCustomer", {"description": "changed"}),
        ("updateCustomer", {"expectedVersion": 2, "displayName": "changed"}),
        ("setCustomerName", {"name": "changed"}),
        ("setCustomerIngestAliases", {"ingestAliases": ["changed"]}),
        ("updateCustomerConfig", {"salesforceAccountId": "changed"}),
    ],
)
async def test_archive_customer_blocks_changes(
    tenant: TenantHandle, operation: str, fields: dict[str, Any]
) -> None:
    api = tenant.api
    created = await succeed(api, "createCustomer", displayName="Frozen", ingestAliases=["f"])
    archived = await succeed(api, "archiveCustomer", id=created["id"])
    errors = await fail(api, operation, id=created["id"], **fields)
    assert errors == [("ARCHIVED", ["input", "id"])]
    assert await read(api, created["id"]) == archived


async def test_archive_customer_twice_is_a_no_op(tenant: TenantHandle) -> None:
    api = tenant.api
    created = await succeed(api, "createCustomer", displayName="Twice")
    first = await succeed(api, "archiveCustomer", id=created["id"])
    second = await succeed(api, "archiveCustomer", id=created["id"])
    assert second == first
    assert second["version"] == 2
    assert await read(api, created["id"]) == first


async def test_archive_customer_not_found(tenant: TenantHandle, other_tenant: TenantHandle) -> None:
    foreign = await succeed(other_tenant.api, "createCustomer", displayName="Foreign")
    for operation in ("archiveCustomer", "restoreCustomer"):
        errors = await fail(tenant.api, operation, id=foreign["id"])
        assert errors == [("NOT_FOUND", ["input", "id"])], operation
    assert await read(other_tenant.api, foreign["id"]) == foreign


@pytest.mark.parametrize("field", ["email", "handle", "externalId", "ingestAliases"])
async def test_restore_customer_taken_when_value_reused(tenant: TenantHandle, field: str) -> None:
    api = tenant.api
    created = await succeed(api, "createCustomer", displayName="Old", **UNIQUE_VALUES)
    archived = await succeed(api, "archiveCustomer", id=created["id"])
    value = UNIQUE_VALUES[field]
    reused = [value[1].upper()] if field == "ingestAliases" else value.upper()
    taker = await succeed(api, "createCustomer", displayName="Taker", **{field: reused})
    errors = await fail(api, "restoreCustomer", id=created["id"])
    assert errors == [("TAKEN", ["input", "id"])]
    assert await read(api, created["id"]) == archived
    assert await listed(api, "ARCHIVED") == [created["id"]]
    assert await listed(api) == [taker["id"]]


async def test_restore_customer_works_and_values_are_unique_again(tenant: TenantHandle) -> None:
    api = tenant.api
    created = await succeed(api, "createCustomer", displayName="Old", **UNIQUE_VALUES)
    await succeed(api, "archiveCustomer", id=created["id"])
    taker = await succeed(api, "createCustomer", displayName="Taker", email="unique@example.com")
    assert (await fail(api, "restoreCustomer", id=created["id"])) == [("TAKEN", ["input", "id"])]
    await succeed(api, "archiveCustomer", id=taker["id"])

    restored = await succeed(api, "restoreCustomer", id=created["id"])
    assert restored["isArchived"] is False
    assert restored["archivedAt"] is None
    assert restored["version"] == 3
    assert at(restored["updatedAt"]) > at(created["updatedAt"])
    for key in ("email", "handle", "externalId", "ingestAliases", "displayName"):
        assert restored[key] == created[key], key
    assert await read(api, created["id"]) == restored
    assert await listed(api) == [created["id"]]
    assert await found_by(api, handle="unique-handle") == created["id"]
    assert await found_by(api, ingestAlias="unique-alias") == created["id"]

    again = await succeed(api, "restoreCustomer", id=created["id"])
    assert again == restored
    for field, value in UNIQUE_VALUES.items():
        payload = await mutate(api, "createCustomer", displayName="Dup", **{field: value})
        assert payload["customer"] is None, field
        errors = pairs(payload["userErrors"])
        assert [(code, path[:2]) for code, path in errors] == [("TAKEN", ["input", field])]
    assert await listed(api) == [created["id"]]
    changed = await succeed(api, "setCustomerName", id=created["id"], name="Changeable again")
    assert changed["version"] == 4


# ---------------------------------------------------------------- scopes


async def forbidden(api: Api, operation: str, **fields: Any) -> None:
    document = (
        f"mutation($input: {INPUT_TYPES[operation]}!) "
        f"{{ {operation}(input: $input) {{ {PAYLOAD} }} }}"
    )
    body = await api.gql(document, {"input": fields})
    assert body["data"] is None
    assert len(body["errors"]) == 1
    error = body["errors"][0]
    assert error["path"] == [operation]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["extensions"]["missingScopes"] == ["write:customers"]


async def test_create_customer_forbidden_without_write_scope(tenant: TenantHandle) -> None:
    reader = await tenant.key_with(["read:customers"])
    await forbidden(reader, "createCustomer", displayName="Nope", email="nope@example.com")
    assert await listed(reader, "ALL") == []
    assert await listed(tenant.api, "ALL") == []
    await create_customer(tenant.api, email="nope@example.com")


@pytest.mark.parametrize(
    ("operation", "fields"),
    [
        ("updateCustomer", {"displayName": "Changed", "email": "changed@example.com"}),
        ("setCustomerName", {"name": "Changed"}),
        ("setCustomerIngestAliases", {"ingestAliases": ["changed"]}),
        ("updateCustomerConfig", {"salesforceAccountId": "changed"}),
        ("archiveCustomer", {}),
        ("restoreCustomer", {}),
    ],
)
async def test_update_customer_forbidden_without_write_scope(
    tenant: TenantHandle, operation: str, fields: dict[str, Any]
) -> None:
    created = await succeed(tenant.api, "createCustomer", displayName="Mine", ingestAliases=["m"])
    if operation == "restoreCustomer":
        created = await succeed(tenant.api, "archiveCustomer", id=created["id"])
    reader = await tenant.key_with(["read:customers"])
    await forbidden(reader, operation, id=created["id"], **fields)
    assert await read(reader, created["id"]) == created
