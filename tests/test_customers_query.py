"""Query.customer and Query.customers over HTTP (API.md: Global IDs and pagination, Customers)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Api, TenantHandle, assert_statements, count_statements
from helpers import (
    CUSTOMERS_PAGE,
    archive_customer,
    create_customer,
    create_customer_batch,
    customer_ids,
    customers_page,
    single_error,
    update_customer,
)
from starlette.applications import Starlette

CUSTOMER = """
query One($id: ID, $handle: String, $externalId: String, $ingestAlias: String) {
  customer(id: $id, handle: $handle, externalId: $externalId, ingestAlias: $ingestAlias) {
    id handle isArchived
  }
}
"""

VIEWER_TENANT_ID = "query { viewer { tenant { id } } }"


async def lookup(api: Api, **key: str | None) -> dict[str, Any] | None:
    data = await api.data(CUSTOMER, key)
    customer: dict[str, Any] | None = data["customer"]
    return customer


async def lookup_error(api: Api, **key: str | None) -> dict[str, Any]:
    body = await api.gql(CUSTOMER, key)
    assert body["data"] == {"customer": None}, body
    return single_error(body)


async def tenant_global_id(api: Api) -> str:
    data = await api.data(VIEWER_TENANT_ID)
    value: str = data["viewer"]["tenant"]["id"]
    return value


async def page_error(api: Api, **arguments: Any) -> dict[str, Any]:
    body = await api.gql(CUSTOMERS_PAGE, arguments)
    assert body["data"] is None, body
    return single_error(body)


def as_set(ids: list[str]) -> set[str]:
    assert len(ids) == len(set(ids)), f"duplicate rows in {ids}"
    return set(ids)


# ---------------------------------------------------------------- customer(...)


async def test_customer_by_each_key_case_insensitively(tenant: TenantHandle) -> None:
    target = await create_customer(
        tenant.api, handle="Acme-Corp", externalId="EXT-Acme-1", ingestAliases=["Feed-One", "two"]
    )
    await create_customer(tenant.api, handle="acme-corp-2", externalId="ext-acme-10")
    expected = {"id": target["id"], "handle": "Acme-Corp", "isArchived": False}

    assert await lookup(tenant.api, id=target["id"]) == expected
    for handle in ("Acme-Corp", "acme-corp", "ACME-CORP"):
        assert await lookup(tenant.api, handle=handle) == expected
    for external_id in ("EXT-Acme-1", "ext-acme-1", "EXT-ACME-1"):
        assert await lookup(tenant.api, externalId=external_id) == expected
    for alias in ("Feed-One", "feed-one", "FEED-ONE", "TWO"):
        assert await lookup(tenant.api, ingestAlias=alias) == expected


async def test_customer_lookup_misses_are_null(tenant: TenantHandle) -> None:
    await create_customer(tenant.api, handle="acme", externalId="ext-1", ingestAliases=["feed"])
    # Exact matches only: no prefix, substring or wildcard matching.
    for key in (
        {"handle": "acm"},
        {"handle": "acme%"},
        {"handle": "acme-x"},
        {"externalId": "ext"},
        {"externalId": "ext_1"},
        {"ingestAlias": "fee"},
        {"ingestAlias": "%"},
    ):
        assert await lookup(tenant.api, **key) is None, key


async def test_archived_customer_is_found_by_id_only(tenant: TenantHandle) -> None:
    customer = await create_customer(
        tenant.api, handle="gone", externalId="gone-ext", ingestAliases=["gone-alias"]
    )
    await archive_customer(tenant.api, customer["id"])

    found = await lookup(tenant.api, id=customer["id"])
    assert found == {"id": customer["id"], "handle": "gone", "isArchived": True}
    assert await lookup(tenant.api, handle="gone") is None
    assert await lookup(tenant.api, externalId="gone-ext") is None
    assert await lookup(tenant.api, ingestAlias="gone-alias") is None

    # The freed handle can be reused, and the lookup then finds the active customer.
    reused = await create_customer(tenant.api, handle="GONE")
    assert (await lookup(tenant.api, handle="gone") or {}).get("id") == reused["id"]


@pytest.mark.parametrize(
    "key",
    [
        {},
        {"id": None, "handle": None, "externalId": None, "ingestAlias": None},
        {"handle": "a", "externalId": "b"},
        {"handle": "a", "ingestAlias": "a"},
        {"externalId": "a", "ingestAlias": "a"},
        {"id": "ID", "handle": "a"},
        {"id": "ID", "handle": "a", "externalId": "b", "ingestAlias": "c"},
    ],
)
async def test_customer_needs_exactly_one_key(
    tenant: TenantHandle, key: dict[str, str | None]
) -> None:
    customer = await create_customer(tenant.api, handle="a", externalId="b", ingestAliases=["c"])
    given = {name: customer["id"] if value == "ID" else value for name, value in key.items()}
    error = await lookup_error(tenant.api, **given)
    assert "exactly one" in error["message"]


@pytest.mark.parametrize(
    "bad_id",
    [
        "",
        "not an id",
        "!!!!",
        "Q3VzdG9tZXI",  # "Customer" with no key
        "Q3VzdG9tZXI6YWJj",  # "Customer:abc"
        "Q3VzdG9tZXI6LTE",  # "Customer:-1"
        "Q3VzdG9tZXI6MSAx",  # "Customer:1 1"
        "8J+Ygg",  # an emoji, base64
        "é",
        "A" * 5000,
    ],
)
async def test_malformed_customer_id_is_bad_user_input(tenant: TenantHandle, bad_id: str) -> None:
    await lookup_error(tenant.api, id=bad_id)


async def test_id_of_another_type_or_tenant_is_null(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    await create_customer(tenant.api)
    foreign = await create_customer(other_tenant.api, handle="theirs")

    body = await tenant.api.gql(CUSTOMER, {"id": await tenant_global_id(tenant.api)})
    assert body == {"data": {"customer": None}}
    body = await tenant.api.gql(CUSTOMER, {"id": foreign["id"]})
    assert body == {"data": {"customer": None}}
    assert await lookup(tenant.api, handle="theirs") is None


# ---------------------------------------------------------------- customers(): order


async def test_default_order_is_created_at_descending(tenant: TenantHandle) -> None:
    created = await create_customer_batch(tenant.api, [{"displayName": n} for n in "bca"])
    # A later update does not move a customer in the default order.
    await update_customer(tenant.api, created[0]["id"], description="touched")
    assert await customer_ids(tenant.api) == [c["id"] for c in reversed(created)]


# Five customers (index: displayName, email), then c2 and c0 are updated in that order, so
# updatedAt order is c1, c3, c4, c2, c0. Ties: c1/c3 share a name, and both have no email.
ORDER_DATA = [
    ("delta", "d@example.com"),
    ("alpha", None),
    ("charlie", "a@example.com"),
    ("alpha", None),
    ("bravo", "z@example.com"),
]
ORDERS = {
    ("CREATED_AT", "ASC"): [0, 1, 2, 3, 4],
    ("CREATED_AT", "DESC"): [4, 3, 2, 1, 0],
    ("UPDATED_AT", "ASC"): [1, 3, 4, 2, 0],
    ("UPDATED_AT", "DESC"): [0, 2, 4, 3, 1],
    ("DISPLAY_NAME", "ASC"): [1, 3, 4, 2, 0],
    ("DISPLAY_NAME", "DESC"): [0, 2, 4, 3, 1],
    # A missing email sorts as the empty string: first ascending, last descending.
    ("EMAIL", "ASC"): [1, 3, 2, 0, 4],
    ("EMAIL", "DESC"): [4, 0, 2, 3, 1],
}


@pytest.mark.parametrize(("field", "direction"), list(ORDERS))
async def test_order_by_every_field_both_directions(
    tenant: TenantHandle, field: str, direction: str
) -> None:
    created = await create_customer_batch(
        tenant.api, [{"displayName": name, "email": email} for name, email in ORDER_DATA]
    )
    ids = [c["id"] for c in created]
    await update_customer(tenant.api, ids[2], description="second to last")
    await update_customer(tenant.api, ids[0], description="last")
    expected = [ids[i] for i in ORDERS[field, direction]]
    order = {"field": field, "direction": direction}

    assert await customer_ids(tenant.api, orderBy=order) == expected
    # The same order page by page, forward and backward.
    first_two = await customers_page(tenant.api, orderBy=order, first=2)
    rest = await customer_ids(
        tenant.api, orderBy=order, first=10, after=first_two["pageInfo"]["endCursor"]
    )
    assert [e["node"]["id"] for e in first_two["edges"]] + rest == expected
    last_two = await customers_page(tenant.api, orderBy=order, last=2)
    before = await customer_ids(
        tenant.api, orderBy=order, last=10, before=last_two["pageInfo"]["startCursor"]
    )
    assert before + [e["node"]["id"] for e in last_two["edges"]] == expected


# ---------------------------------------------------------------- customers(): filters


SEARCH_DATA: list[dict[str, Any]] = [
    {"displayName": "Widget Factory", "email": "jane.doe@example.com"},  # 0
    {"displayName": "Other", "companyName": "ACME Holdings"},  # 1
    {"displayName": "100% Pure"},  # 2
    {"displayName": "snake_case co"},  # 3
    {"displayName": "100 pure water", "companyName": "Snake Case Ltd"},  # 4
    {"displayName": "Plain", "handle": "widget", "externalId": "holdings"},  # 5
]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("EXAMPLE.COM", {0}),  # email, case-insensitive
        ("jane.doe@", {0}),
        ("idget fac", {0}),  # display name, substring across a space
        ("WIDGET", {0}),  # not the handle "widget" of 5
        ("holdings", {1}),  # company name, not the externalId "holdings" of 5
        ("acme", {1}),
        ("pure", {2, 4}),
        ("%", {2}),  # % is literal, not a wildcard
        ("100%", {2}),
        ("0%p", set()),
        ("_", {3}),  # _ is literal, not a single-character wildcard
        ("e_c", {3}),
        ("snake case", {4}),
        ("nothing like it", set()),
    ],
)
async def test_search(tenant: TenantHandle, search: str, expected: set[int]) -> None:
    created = await create_customer_batch(tenant.api, SEARCH_DATA)
    connection = await customers_page(tenant.api, search=search)
    found = as_set([e["node"]["id"] for e in connection["edges"]])
    assert found == {created[i]["id"] for i in expected}
    assert connection["totalCount"] == len(expected)


async def test_search_is_case_insensitive_beyond_ascii(tenant: TenantHandle) -> None:
    created = await create_customer_batch(
        tenant.api, [{"displayName": "ÄRZTE ZÜRICH"}, {"displayName": "Ölmühle Éclair"}]
    )
    assert await customer_ids(tenant.api, search="zürich") == [created[0]["id"]]
    assert await customer_ids(tenant.api, search="ölmühle é") == [created[1]["id"]]


async def test_search_ignores_archived_unless_asked(tenant: TenantHandle) -> None:
    created = await create_customer_batch(
        tenant.api, [{"displayName": "match 1"}, {"displayName": "match 2"}]
    )
    await archive_customer(tenant.api, created[0]["id"])
    assert await customer_ids(tenant.api, search="MATCH") == [created[1]["id"]]
    assert await customer_ids(tenant.api, search="MATCH", archived="ARCHIVED") == [created[0]["id"]]


async def test_ids_filter(tenant: TenantHandle, other_tenant: TenantHandle) -> None:
    c = [c["id"] for c in await create_customer_batch(tenant.api, [{}, {}, {}, {}])]
    foreign = await create_customer(other_tenant.api)

    # The result follows orderBy, never the order of `ids`.
    assert await customer_ids(tenant.api, ids=[c[2], c[0]]) == [c[2], c[0]]
    assert await customer_ids(tenant.api, ids=[c[0], c[2]]) == [c[2], c[0]]
    ascending = {"field": "CREATED_AT", "direction": "ASC"}
    assert await customer_ids(tenant.api, ids=[c[2], c[0]], orderBy=ascending) == [c[0], c[2]]
    # Duplicates are harmless; IDs that name nothing here (another tenant's customer, another
    # type) are ignored.
    unknown = [foreign["id"], await tenant_global_id(tenant.api)]
    connection = await customers_page(tenant.api, ids=[c[1], c[1], *unknown])
    assert [e["node"]["id"] for e in connection["edges"]] == [c[1]]
    assert connection["totalCount"] == 1
    assert await customer_ids(tenant.api, ids=unknown) == []
    assert await customer_ids(tenant.api, ids=[]) == []
    # At most 100 IDs.
    assert await customer_ids(tenant.api, ids=[c[3]] * 100) == [c[3]]
    error = await page_error(tenant.api, ids=[c[3]] * 101)
    assert "100" in error["message"]
    await page_error(tenant.api, ids=[c[0], "not-an-id"])


async def test_ingest_alias_filter(tenant: TenantHandle) -> None:
    created = await create_customer_batch(
        tenant.api,
        [{"ingestAliases": ["Alpha-Feed", "alpha-2"]}, {"ingestAliases": ["beta-feed"]}, {}],
    )
    for alias in ("Alpha-Feed", "alpha-feed", "ALPHA-2"):
        assert await customer_ids(tenant.api, ingestAlias=alias) == [created[0]["id"]]
    assert await customer_ids(tenant.api, ingestAlias="BETA-FEED") == [created[1]["id"]]
    for alias in ("alpha", "feed", "%", "alpha_2"):
        assert await customer_ids(tenant.api, ingestAlias=alias) == [], alias


async def test_salesforce_account_ids_filter(tenant: TenantHandle) -> None:
    created = await create_customer_batch(
        tenant.api,
        [
            {"config": {"salesforceAccountId": "SF-1"}},
            {"config": {"salesforceAccountId": "SF-2"}},
            {"config": {"salesforceAccountId": "SF-3"}},
            {},
        ],
    )
    ids = [c["id"] for c in created]
    found = await customer_ids(tenant.api, salesforceAccountIds=["SF-3", "SF-1", "SF-404"])
    assert found == [ids[2], ids[0]]
    assert await customer_ids(tenant.api, salesforceAccountIds=["SF-2"]) == [ids[1]]
    assert await customer_ids(tenant.api, salesforceAccountIds=["SF-404"]) == []
    assert await customer_ids(tenant.api, salesforceAccountIds=[]) == []
    # Exact values, at most 100 of them.
    assert await customer_ids(tenant.api, salesforceAccountIds=["sf-1", "SF-%", "SF-"]) == []
    assert await customer_ids(tenant.api, salesforceAccountIds=["SF-1"] * 100) == [ids[0]]
    await page_error(tenant.api, salesforceAccountIds=["SF-1"] * 101)


@pytest.mark.parametrize(
    "arguments",
    [
        {"search": "' OR 1=1 --"},
        {"search": "'; DROP TABLE customers; --"},
        {"search": "%' OR '%'='"},
        {"ingestAlias": "' OR ''='"},
        {"ingestAlias": "%"},
        {"salesforceAccountIds": ["' OR 1=1 --"]},
        {"filter": 'email = "x\' OR 1=1 --"'},
    ],
)
async def test_hostile_list_arguments_match_nothing(
    tenant: TenantHandle, arguments: dict[str, Any]
) -> None:
    await create_customer_batch(
        tenant.api, [{"ingestAliases": ["feed"], "config": {"salesforceAccountId": "SF-1"}}, {}]
    )
    connection = await customers_page(tenant.api, **arguments)
    assert connection["edges"] == []
    assert connection["totalCount"] == 0
    assert (await customers_page(tenant.api, archived="ALL"))["totalCount"] == 2


@pytest.mark.parametrize(
    "arguments",
    [
        {"search": "a\x00b"},
        {"search": "x" * 5000},
        {"ingestAlias": "a\x00"},
        {"salesforceAccountIds": ["SF-1\x00"]},
        {"filter": 'display_name = "a\x00"'},
        {"filter": "x" * 5000},
    ],
)
async def test_unstorable_list_arguments_are_bad_user_input(
    tenant: TenantHandle, arguments: dict[str, Any]
) -> None:
    await create_customer(tenant.api)
    await page_error(tenant.api, **arguments)


@pytest.mark.parametrize(
    "key",
    [
        {"handle": "x' OR '1'='1"},
        {"externalId": "' OR 1=1 --"},
        {"ingestAlias": "%"},
        {"handle": "*"},
    ],
)
async def test_hostile_lookup_keys_find_nothing(tenant: TenantHandle, key: dict[str, str]) -> None:
    await create_customer(tenant.api, handle="h", externalId="e", ingestAliases=["a"])
    assert await lookup(tenant.api, **key) is None


@pytest.mark.parametrize(
    "key", [{"handle": "a\x00"}, {"externalId": "\x00"}, {"ingestAlias": "x" * 5000}]
)
async def test_unstorable_lookup_keys_are_bad_user_input(
    tenant: TenantHandle, key: dict[str, str]
) -> None:
    await lookup_error(tenant.api, **key)


async def test_archived_filter(tenant: TenantHandle) -> None:
    c = [c["id"] for c in await create_customer_batch(tenant.api, [{}, {}, {}, {}])]
    await archive_customer(tenant.api, c[1])
    await archive_customer(tenant.api, c[3])

    for arguments, expected in (
        ({}, [c[2], c[0]]),
        ({"archived": "ACTIVE"}, [c[2], c[0]]),
        ({"archived": "ARCHIVED"}, [c[3], c[1]]),
        ({"archived": "ALL"}, [c[3], c[2], c[1], c[0]]),
    ):
        connection = await customers_page(tenant.api, **arguments)
        assert [e["node"]["id"] for e in connection["edges"]] == expected, arguments
        assert connection["totalCount"] == len(expected), arguments


async def test_filters_combine_with_and(tenant: TenantHandle) -> None:
    created = await create_customer_batch(
        tenant.api,
        [
            {"displayName": "match a", "config": {"salesforceAccountId": "SF-1"}},
            {"displayName": "match b", "config": {"salesforceAccountId": "SF-2"}},
            {"displayName": "other", "config": {"salesforceAccountId": "SF-1"}},
        ],
    )
    ids = [c["id"] for c in created]
    found = await customer_ids(tenant.api, search="match", salesforceAccountIds=["SF-1"], ids=ids)
    assert found == [ids[0]]
    found = await customer_ids(tenant.api, search="match", filter='display_name = "match b"')
    assert found == [ids[1]]


# ---------------------------------------------------------------- totalCount and page sizes


async def test_total_count_counts_the_whole_filtered_set(tenant: TenantHandle) -> None:
    inputs = [{"displayName": f"match {n}" if n % 2 == 0 else f"other {n}"} for n in range(13)]
    created = await create_customer_batch(tenant.api, inputs)
    await archive_customer(tenant.api, created[0]["id"])  # a match, but archived

    first = await customers_page(tenant.api, search="match", first=2)
    assert len(first["edges"]) == 2
    assert first["totalCount"] == 6
    after = await customers_page(
        tenant.api, search="match", first=2, after=first["pageInfo"]["endCursor"]
    )
    assert len(after["edges"]) == 2
    assert after["totalCount"] == 6
    last = await customers_page(tenant.api, search="match", last=1)
    assert len(last["edges"]) == 1
    assert last["totalCount"] == 6
    assert (await customers_page(tenant.api, search="match", archived="ALL"))["totalCount"] == 7
    assert (await customers_page(tenant.api, first=0))["totalCount"] == 12
    assert (await customers_page(tenant.api, search="absent"))["totalCount"] == 0


@pytest.mark.parametrize(
    "arguments",
    [
        {"first": 101},
        {"last": 101},
        {"first": -1},
        {"last": -1},
        {"first": 1000000},
        {"last": -2147483648},
    ],
)
async def test_page_size_out_of_range_is_bad_user_input(
    tenant: TenantHandle, arguments: dict[str, int]
) -> None:
    await create_customer(tenant.api)
    error = await page_error(tenant.api, **arguments)
    assert "100" in error["message"]


async def test_page_size_default_is_20_and_100_is_allowed(tenant: TenantHandle) -> None:
    created = await create_customer_batch(tenant.api, [{"displayName": f"c{n}"} for n in range(23)])
    newest_first = [c["id"] for c in reversed(created)]

    page = await customers_page(tenant.api)
    assert [e["node"]["id"] for e in page["edges"]] == newest_first[:20]
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["totalCount"] == 23
    # `before` alone pages backward 20 at a time.
    before = await customers_page(tenant.api, before=page["edges"][-1]["cursor"])
    assert [e["node"]["id"] for e in before["edges"]] == newest_first[:19]
    assert before["pageInfo"]["hasPreviousPage"] is False

    for arguments in ({"first": 100}, {"last": 100}):
        page = await customers_page(tenant.api, **arguments)
        assert [e["node"]["id"] for e in page["edges"]] == newest_first, arguments
        assert page["pageInfo"]["hasNextPage"] is False
        assert page["pageInfo"]["hasPreviousPage"] is False
    page = await customers_page(tenant.api, first=3)
    assert [e["node"]["id"] for e in page["edges"]] == newest_first[:3]


LIST_WITHOUT_COUNT = """
query { customers(first: 2) { edges { cursor node { id displayName } } pageInfo { hasNextPage } } }
"""
LIST_WITH_COUNT = """
query {
  customers(first: 2) {
    edges { cursor node { id displayName } } pageInfo { hasNextPage } totalCount
  }
}
"""


async def test_total_count_runs_one_statement_only_when_selected(
    tenant: TenantHandle, app: Starlette
) -> None:
    await create_customer_batch(tenant.api, [{}, {}, {}])
    await tenant.api.data(LIST_WITH_COUNT)  # warm up anything cached per process

    with count_statements(app) as without:
        data = await tenant.api.data(LIST_WITHOUT_COUNT)
    assert len(data["customers"]["edges"]) == 2
    with count_statements(app) as counted:
        data = await tenant.api.data(LIST_WITH_COUNT)
    assert data["customers"]["totalCount"] == 3

    assert not [s for s in without if "count(" in s.lower()], without
    assert_statements(counted, len(without) + 1)
    assert len([s for s in counted if "count(" in s.lower()]) == 1, counted
    # The page itself is one bounded query.
    pages = [s for s in without if "from customers" in s.lower()]
    assert len(pages) == 1, without
    assert "limit" in pages[0].lower(), pages[0]
