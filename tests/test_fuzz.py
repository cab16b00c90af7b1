"""Hostile input never gives a 500 and never changes a row when it is refused.

Hypothesis sends NUL bytes, unpaired surrogates, 1 MB strings, deep JSON, huge numbers,
malformed ids and cursors to every mutation and to the filter, search and paging
arguments; each answer must be a clean refusal (userErrors or a coded GraphQL error, or
HTTP 4xx) or a success, and a refusal must leave the tenant's data as it was.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from conftest import TenantHandle, make_tenant
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "\x00",
            "a\x00b",
            "\ud800",
            "x" * 1_000_000,
            "' OR 1=1 --",
            "%_*",
            "Q3VzdG9tZXI6OTk5OTk5OTk5OTk5OTk5OTk5OTk5",
            "Q3VzdG9tZXI6wrI",
            "@@@",
            "",
            " ",
            "customers/acme",
            "١٢",
        ]
    ),
)
HOSTILE_JSON: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        HOSTILE_TEXT,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=20,
)
DEEP: dict[str, Any] = {"a": None}
for _ in range(200):
    DEEP = {"a": DEEP}

MUTATIONS = {
    "createCustomer": ("CreateCustomerInput", "customer { id }"),
    "updateCustomer": ("UpdateCustomerInput", "customer { id }"),
    "setCustomerName": ("SetCustomerNameInput", "customer { id }"),
    "setCustomerIngestAliases": ("SetCustomerIngestAliasesInput", "customer { id }"),
    "updateCustomerConfig": ("UpdateCustomerConfigInput", "customer { id }"),
    "archiveCustomer": ("ArchiveCustomerInput", "customer { id }"),
    "cloneCustomer": ("CloneCustomerInput", "customer { id }"),
    "createPlan": ("CreatePlanInput", "plan { id }"),
    "createSubscription": ("CreateSubscriptionInput", "subscription { id }"),
    "createInstance": ("CreateInstanceInput", "instance { id }"),
    "createBillableMetric": ("CreateBillableMetricInput", "billableMetric { id }"),
    "ingestUsage": ("IngestUsageInput", "accepted"),
}
FIELDS = [
    "id", "displayName", "companyName", "email", "handle", "externalId", "name", "countryCode",
    "currency", "locale", "timezone", "customerId", "planId", "sourceCustomerId", "phone",
    "customFields", "ingestAliases", "billingConfig", "billingProviderConfigurations",
    "updateMask", "expectedVersion", "charges", "events", "aggregationType", "propertyFilters",
    "groupKeys", "startedAt", "endsAt", "status", "region", "config", "description",
]  # fmt: skip
SNAPSHOT = """{ customers(first: 100, archived: ALL) { totalCount nodes { id version } }
  plans(includeArchived: true) { totalCount }
  billableMetrics(includeArchived: true) { totalCount } }"""


async def snapshot(tenant: TenantHandle) -> Any:
    return await tenant.api.data(SNAPSHOT)


def send(tenant: TenantHandle, body: bytes) -> Any:
    headers = {"Authorization": f"Bearer {tenant.key}", "Content-Type": "application/json"}
    return tenant.api.http.post("/graphql", content=body, headers=headers)


def encode(payload: Any) -> bytes:
    """JSON as a client would send it; an unpaired surrogate travels as its escape."""
    return json.dumps(payload, ensure_ascii=True).encode()


def assert_clean(response: httpx.Response) -> dict[str, Any] | None:
    assert response.status_code != 500 and response.status_code < 503, response.text[:500]
    if response.status_code >= 400:
        return None
    body: dict[str, Any] = response.json()
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code and code != "INTERNAL_SERVER_ERROR", error
        assert "Traceback" not in error["message"] and "SELECT" not in error["message"]
    return body


FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(
    mutation=st.sampled_from(sorted(MUTATIONS)),
    values=st.dictionaries(
        st.sampled_from(FIELDS), st.one_of(HOSTILE_TEXT, HOSTILE_JSON, st.just(DEEP)), max_size=4
    ),
)
async def test_mutations_refuse_hostile_input_cleanly(
    app: Starlette, client: httpx.AsyncClient, mutation: str, values: dict[str, Any]
) -> None:
    tenant = await make_tenant(app, client)
    before = await snapshot(tenant)
    input_type, selection = MUTATIONS[mutation]
    query = (
        f"mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ {selection} "
        "userErrors { code field } } }"
    )
    body = assert_clean(
        await send(tenant, encode({"query": query, "variables": {"input": values}}))
    )
    payload = ((body or {}).get("data") or {}).get(mutation)
    refused = body is None or payload is None or bool(payload.get("userErrors"))
    if refused:
        assert await snapshot(tenant) == before, "a refused mutation changed data"


@FUZZ
@given(
    filter_=st.one_of(st.none(), HOSTILE_TEXT),
    search=st.one_of(st.none(), HOSTILE_TEXT),
    after=st.one_of(st.none(), HOSTILE_TEXT),
    first=st.one_of(st.none(), st.integers(min_value=-(2**40), max_value=2**40)),
    ids=st.one_of(st.none(), st.lists(HOSTILE_TEXT, max_size=3)),
)
async def test_reads_refuse_hostile_arguments_cleanly(
    app: Starlette,
    client: httpx.AsyncClient,
    filter_: str | None,
    search: str | None,
    after: str | None,
    first: int | None,
    ids: list[str] | None,
) -> None:
    tenant = await make_tenant(app, client)
    query = """query($f: String, $s: String, $a: String, $n: Int, $ids: [ID!]) {
      customers(filter: $f, search: $s, after: $a, first: $n, ids: $ids) { totalCount }
      node(id: "Q3VzdG9tZXI6MQ") { id } }"""
    variables = {"f": filter_, "s": search, "a": after, "n": first, "ids": ids}
    assert_clean(await send(tenant, encode({"query": query, "variables": variables})))
