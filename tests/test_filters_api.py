"""`customers(filter:)`: the AIP-160 subset of API.md, over HTTP against the real app."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Api, TenantHandle
from helpers import (
    CUSTOMERS_PAGE,
    archive_customer,
    create_customer_batch,
    single_error,
    update_customer,
)

DATASET: dict[str, dict[str, Any]] = {
    "acme": {
        "displayName": "Acme Corp",
        "companyName": "Acme Corporation",
        "handle": "acme",
        "externalId": "acme-corp",
        "email": "billing@acme.com",
        "countryCode": "US",
        "industry": "Software",
        "customFields": [{"key": "tier", "value": "gold"}, {"key": "region", "value": "emea"}],
        "ingestAliases": ["acme-ingest"],
    },
    "labs": {
        "displayName": "ACME Labs",
        "countryCode": "DE",
        "customFields": [{"key": "tier", "value": "silver"}],
    },
    "globex": {
        "displayName": "Globex",
        "accountType": "INDIVIDUAL",
        "externalId": "globex",
        "email": "hank@globex.com",
        "countryCode": "US",
        "ingestAliases": ["globex-1", "GX"],
    },
    "initech": {
        "displayName": "Initech acme fan",
        "accountType": "INDIVIDUAL",
        "email": "peter@initech.com",
    },
    "organic": {
        "displayName": "100% Organic",
        "companyName": "Organic_Foods",
        "email": "x@organic.com",
        "countryCode": "FR",
        "customFields": [{"key": "tier", "value": "bronze"}],
    },
    "umbrella": {
        "displayName": "Umbrella",
        "industry": "Pharma",
        "customFields": [{"key": "cost-center", "value": "42"}],
    },
    "archived": {"displayName": "Archived Acme", "externalId": "archived-acme"},
}
ACTIVE = {name for name in DATASET if name != "archived"}


async def make_dataset(api: Api) -> dict[str, str]:
    """The customers of DATASET, created in its order; "archived" is archived. Name → id."""
    created = await create_customer_batch(api, list(DATASET.values()))
    ids = {name: customer["id"] for name, customer in zip(DATASET, created, strict=True)}
    await archive_customer(api, ids["archived"])
    return ids


async def filtered(api: Api, text: str, **arguments: Any) -> dict[str, Any]:
    return await api.gql(CUSTOMERS_PAGE, {"filter": text, "first": 100, **arguments})


async def matches(api: Api, ids: dict[str, str], text: str, **arguments: Any) -> set[str]:
    """The names of the customers the filter returns (no errors allowed)."""
    body = await filtered(api, text, **arguments)
    assert "errors" not in body, (text, body)
    connection = body["data"]["customers"]
    found = [edge["node"]["id"] for edge in connection["edges"]]
    names = {value: key for key, value in ids.items()}
    assert len(found) == len(set(found)), found
    assert all(value in names for value in found), found
    assert connection["totalCount"] == len(found)
    return {names[value] for value in found}


async def filter_error(api: Api, text: str) -> dict[str, Any]:
    body = await filtered(api, text)
    assert body["data"] is None, (text, body)
    return single_error(body)


async def assert_all_rows_present(api: Api, ids: dict[str, str]) -> None:
    body = await api.gql(CUSTOMERS_PAGE, {"archived": "ALL", "first": 100})
    assert "errors" not in body, body
    found = {edge["node"]["id"] for edge in body["data"]["customers"]["edges"]}
    assert found == set(ids.values())
    assert body["data"]["customers"]["totalCount"] == len(DATASET)


@pytest.fixture
async def dataset(tenant: TenantHandle) -> dict[str, str]:
    return await make_dataset(tenant.api)


# ---------------------------------------------------------------- API.md examples


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('display_name : "*acme*"', {"acme", "labs", "initech"}),
        ("external_id = 'acme-corp'", {"acme"}),
        (
            "create_time > '2024-01-01T00:00:00Z' AND NOT account_type = 'individual'",
            {"acme", "labs", "organic", "umbrella"},
        ),
    ],
)
async def test_api_md_examples(
    tenant: TenantHandle, dataset: dict[str, str], text: str, expected: set[str]
) -> None:
    assert await matches(tenant.api, dataset, text) == expected
    # Archived customers match too, but only show with archived: ARCHIVED or ALL.
    with_archived = await matches(tenant.api, dataset, text, archived="ALL")
    assert with_archived - expected <= {"archived"}


async def test_archived_customers_match_when_asked(
    tenant: TenantHandle, dataset: dict[str, str]
) -> None:
    text = 'display_name : "*acme*"'
    assert await matches(tenant.api, dataset, text, archived="ARCHIVED") == {"archived"}
    assert await matches(tenant.api, dataset, text, archived="ALL") == {
        "acme",
        "labs",
        "initech",
        "archived",
    }


# ---------------------------------------------------------------- operators and logic


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # = is exact and case-sensitive; : is case-insensitive, * matches any run.
        ('display_name = "Acme Corp"', {"acme"}),
        ('display_name = "acme corp"', set()),
        ('display_name = "Acme"', set()),
        ('display_name : "acme corp"', {"acme"}),
        ('display_name : "ACME*"', {"acme", "labs"}),
        ('display_name : "*FAN"', {"initech"}),
        ('display_name = "Acme*"', {"acme"}),
        ('display_name = "*"', ACTIVE),
        ("display_name = Globex", {"globex"}),  # an unquoted word
        ('handle = "acme"', {"acme"}),
        ('email = "hank@globex.com"', {"globex"}),
        ('email : "*@ACME.COM"', {"acme"}),
        ('company_name : "*corp*"', {"acme"}),
        ('industry = "Pharma"', {"umbrella"}),
        # Enum-like fields compare without regard to case.
        ('account_type = "individual"', {"globex", "initech"}),
        ('account_type = "INDIVIDUAL"', {"globex", "initech"}),
        ('country_code = "us"', {"acme", "globex"}),
        ('display_name < "B"', {"acme", "labs", "organic"}),
        ('display_name >= "Initech"', {"initech", "umbrella"}),
        # AND, OR, NOT, "-", parentheses and juxtaposition.
        ('display_name : "*acme*" AND account_type = "business"', {"acme", "labs"}),
        ('display_name : "*acme*" account_type = "business"', {"acme", "labs"}),
        ('display_name : "*acme*" OR country_code = "US"', {"acme", "labs", "initech", "globex"}),
        ('NOT display_name : "*acme*"', {"globex", "organic", "umbrella"}),
        ('-display_name : "*acme*"', {"globex", "organic", "umbrella"}),
        ('NOT NOT external_id = "globex"', {"globex"}),
        ('NOT(country_code = "US" OR country_code = "DE")', {"initech", "organic", "umbrella"}),
        (
            '(account_type = "individual" OR custom_fields.tier = "gold") '
            'AND NOT country_code = "US"',
            {"initech"},
        ),
        # OR binds tighter than AND (AIP-160): a AND b OR c is a AND (b OR c).
        (
            'account_type = "individual" AND country_code = "US" OR country_code = "DE"',
            {"globex"},
        ),
        (
            '(account_type = "individual" AND country_code = "US") OR country_code = "DE"',
            {"globex", "labs"},
        ),
        (
            'account_type = "business" AND (NOT display_name : "*acme*" OR handle = "acme")',
            {"acme", "organic", "umbrella"},
        ),
        ('external_id = "globex" AND external_id = "acme-corp"', set()),
        ('external_id = "globex" OR external_id = "acme-corp"', {"globex", "acme"}),
        # custom_fields.<key>
        ('custom_fields.tier = "gold"', {"acme"}),
        ('custom_fields.tier : "*ILV*"', {"labs"}),
        ('custom_fields.tier > "c"', {"acme", "labs"}),
        ('custom_fields.region = "emea" AND custom_fields.tier = "gold"', {"acme"}),
        ('custom_fields.cost-center = "42"', {"umbrella"}),
        ('custom_fields.missing = "gold"', set()),
        ('custom_fields.tier = "GOLD"', set()),
        # ingest_aliases: any alias of the customer, case-insensitively.
        ('ingest_aliases = "acme-ingest"', {"acme"}),
        ('ingest_aliases = "gx"', {"globex"}),
        ('ingest_aliases : "GLOBEX-1"', {"globex"}),
        ('ingest_aliases : "globex*"', {"globex"}),
        ('ingest_aliases : "*INGEST"', {"acme"}),
        ('ingest_aliases = "acme"', set()),
        ('ingest_aliases = "globex-1" AND ingest_aliases = "GX"', {"globex"}),
    ],
)
async def test_filter_semantics(
    tenant: TenantHandle, dataset: dict[str, str], text: str, expected: set[str]
) -> None:
    assert await matches(tenant.api, dataset, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # != and NOT = are true where the field is null (two-valued logic).
        ('email != "billing@acme.com"', ACTIVE - {"acme"}),
        ('NOT email = "billing@acme.com"', ACTIVE - {"acme"}),
        ('country_code != "US"', {"labs", "initech", "organic", "umbrella"}),
        ('industry != "Pharma"', ACTIVE - {"umbrella"}),
        ('external_id != "nothing"', ACTIVE),
        ('custom_fields.tier != "gold"', ACTIVE - {"acme"}),
        ('NOT custom_fields.tier : "*l*"', ACTIVE - {"acme", "labs"}),
        ('ingest_aliases != "gx"', ACTIVE - {"globex"}),
        ('NOT ingest_aliases = "gx"', ACTIVE - {"globex"}),
        ('company_name != "x" AND email != "x"', ACTIVE),
        ('display_name != "Acme*"', ACTIVE - {"acme"}),
        # NOT of a comparison is its exact complement, nulls included.
        ('NOT email : "*.com"', {"labs", "umbrella"}),
        ('email : "*.com" OR NOT email : "*.com"', ACTIVE),
    ],
)
async def test_not_equal_includes_nulls(
    tenant: TenantHandle, dataset: dict[str, str], text: str, expected: set[str]
) -> None:
    assert await matches(tenant.api, dataset, text) == expected


async def test_time_fields(tenant: TenantHandle) -> None:
    api = tenant.api
    first = await create_customer_batch(api, [{"displayName": "t0"}, {"displayName": "t1"}])
    middle = (await create_customer_batch(api, [{"displayName": "t2"}]))[0]
    last = await create_customer_batch(api, [{"displayName": "t3"}, {"displayName": "t4"}])
    ids = {c["displayName"]: c["id"] for c in [*first, middle, *last]}
    at = middle["createdAt"]
    assert at.endswith("Z")

    assert await matches(api, ids, f'create_time > "{at}"') == {"t3", "t4"}
    assert await matches(api, ids, f'create_time >= "{at}"') == {"t2", "t3", "t4"}
    assert await matches(api, ids, f'created_at < "{at}"') == {"t0", "t1"}
    assert await matches(api, ids, f'created_at <= "{at}"') == {"t0", "t1", "t2"}
    assert await matches(api, ids, f'create_time = "{at}"') == {"t2"}
    assert await matches(api, ids, f'create_time != "{at}"') == {"t0", "t1", "t3", "t4"}
    # The same instant written with another offset.
    assert await matches(api, ids, 'create_time < "2000-01-01T01:00:00+01:00"') == set()
    assert await matches(api, ids, "create_time > '2000-01-01T00:00:00Z'") == set(ids)
    assert await matches(api, ids, 'create_time > "2000-01-01"') == set(ids)

    touched = await update_customer(api, ids["t0"], description="touched")
    assert await matches(api, ids, f'update_time > "{at}"') == {"t0", "t3", "t4"}
    assert await matches(api, ids, f'updated_at >= "{touched["updatedAt"]}"') == {"t0"}


# ---------------------------------------------------------------- errors with positions


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ('display_name = "acme" AND AND email = "x"', 26),
        ('display_name = "acme" OR', 22),
        ("display_name = ", 15),
        ("display_name", 12),
        ('display_name == "a"', 14),
        ('display_name ~ "a"', 13),
        ('(display_name = "a"', 0),
        ('display_name = "a")', 18),
        ('display_name = "abc', 15),
        ('display_name = "a\\q"', 17),
        ('email = "a" AND (display_name = "b" OR ()', 39),
        ('1=1 OR display_name = "a"', 0),
        ('display_name = "a" OR 1=1', 22),
        ('display_name = "a" AND', 19),
        ('- display_name = "a"', 0),
        ('"display_name" = "a"', 0),
        ('display_name = "a" "b"', 19),
    ],
)
async def test_syntax_error_names_the_position(
    tenant: TenantHandle, text: str, position: int
) -> None:
    error = await filter_error(tenant.api, text)
    assert error["extensions"]["position"] == position, error
    assert f"position {position}" in error["message"], error


@pytest.mark.parametrize(
    ("text", "position", "named"),
    [
        ('nickname = "x"', 0, "nickname"),
        ('display_name = "a" AND nickname = "x"', 23, "nickname"),
        ('(email = "a" OR Display_Name = "b")', 16, "Display_Name"),
        ('NOT password_hash : "*"', 4, "password_hash"),
        ('custom_fields = "x"', 0, "custom_fields"),
        ('custom_fields.a.b = "x"', 0, "custom_fields.a.b"),
        ('tenant_id = "x"', 0, "tenant_id"),
        ('id = "1"', 0, "id"),
    ],
)
async def test_unknown_field_names_the_position(
    tenant: TenantHandle, text: str, position: int, named: str
) -> None:
    error = await filter_error(tenant.api, text)
    assert error["extensions"]["position"] == position, error
    assert f"position {position}" in error["message"], error
    assert named in error["message"], error


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ('create_time : "2024"', 0),
        ('email = "a" OR create_time > "yesterday"', 15),
        ('create_time > "2024-13-01T00:00:00Z"', 0),
        ('ingest_aliases > "a"', 0),
    ],
)
async def test_invalid_comparison_names_the_position(
    tenant: TenantHandle, text: str, position: int
) -> None:
    error = await filter_error(tenant.api, text)
    assert error["extensions"]["position"] == position, error
    assert f"position {position}" in error["message"], error


# ---------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('email = "x\' OR 1=1 --"', set()),
        ("email = 'x'' OR ''1''=''1'", None),
        ('display_name = "\'; DROP TABLE customers; --"', set()),
        ("display_name = '\\'; DROP TABLE customers; --'", set()),
        ('email = "\\" OR \\"1\\"=\\"1"', set()),
        ("handle = \"acme') OR ('1'='1\"", set()),
        ('display_name = "Acme Corp\\" OR display_name != \\""', set()),
        (
            'display_name : "*ACME*" OR email = "\' UNION SELECT key_hash FROM api_keys --"',
            {"acme", "labs", "initech"},
        ),
        ("custom_fields.tier = \"x' OR '1'='1\"", set()),
        ('custom_fields.tier\') OR 1=1 -- = "x"', None),
        ('ingest_aliases = "x\' OR 1=1 --"', set()),
        ('display_name = "Acme Corp" OR 1=1', None),
        ('display_name = "Acme Corp"; DELETE FROM customers', None),
        # LIKE metacharacters are literal; without "*" ":" matches the whole value.
        ('display_name : "%"', set()),
        ('display_name : "*%*"', {"organic"}),
        ('display_name : "100%"', set()),
        ('display_name : "100%*"', {"organic"}),
        ('display_name : "100% organic"', {"organic"}),
        ('display_name = "%"', set()),
        ('display_name = "%%"', set()),
        ('display_name : "_"', set()),
        ('display_name : "*_*"', set()),
        ('display_name : "Glob_x"', set()),
        ('company_name : "*c_f*"', {"organic"}),
        ('company_name : "*C_F*"', {"organic"}),
        ('company_name : "organic%foods"', set()),
        ('display_name : "*\\\\*"', set()),
        ('display_name : "[a-z]*"', set()),
        ('display_name = "Ünïcødé ☃ 🚀"', set()),
        ('display_name = "' + "x" * 900 + '"', set()),
        ('display_name : "*' + "%" * 900 + '*"', set()),
        # Rejected input: NUL anywhere, over-long values and filters, deep nesting.
        ('display_name = "a\x00b"', None),
        ("display_name = a\x00", None),
        ('\x00display_name = "a"', None),
        ('display_name = "a\x01"', set()),
        ('display_name = "' + "x" * 1500 + '"', None),
        ('display_name = "' + "x" * 5000 + '"', None),
        ('display_name : "*' + "%" * 5000 + '*"', None),
        ("(" * 1000 + 'display_name = "Globex"' + ")" * 1000, None),
        ("NOT " * 200 + 'display_name = "Globex"', None),
        ("(" * 40 + 'display_name = "Globex"' + ")" * 40, None),
        ("(" * 30 + 'display_name = "Globex"' + ")" * 30, {"globex"}),
        ("NOT " * 20 + 'display_name = "Globex"', {"globex"}),
        ("(" * 1000, None),
        (")" * 1000, None),
        (
            " OR ".join(f'external_id = "g{n}"' for n in range(60)) + ' OR handle = "acme"',
            {"acme"},
        ),
        (" AND ".join(['display_name : "*"'] * 80), ACTIVE),
        (" OR ".join(f'external_id = "g{n}"' for n in range(200)), None),
    ],
)
async def test_hostile_filters_return_nothing_extra(
    tenant: TenantHandle, dataset: dict[str, str], text: str, expected: set[str] | None
) -> None:
    """Each returns exactly its matching set, or BAD_USER_INPUT (None); the table is intact."""
    if expected is None:
        error = await filter_error(tenant.api, text)
        assert isinstance(error["extensions"]["position"], int), error
    else:
        assert await matches(tenant.api, dataset, text) == expected
    await assert_all_rows_present(tenant.api, dataset)
