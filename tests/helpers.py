"""Small async builders shared by the tests (no factory framework)."""

from __future__ import annotations

from typing import Any

from conftest import Api

CUSTOMER_FIELDS = """
  id handle externalId ingestAliases accountType displayName companyName firstName lastName
  email phone countryCode currency locale timezone industry description runbook
  customFields { key value }
  billingConfig { billingProviderType billingProviderCustomerId stripeCollectionMethod
                  awsProductCode awsRegion awsIsSubscriptionProduct }
  billingProviderConfigurations { billingProvider deliveryMethod deliveryMethodId configuration }
  config { salesforceAccountId leaveStripeInvoicesInDraft }
  stripeCustomerId billableStatus { value effectiveAt }
  version createdAt updatedAt archivedAt isArchived
"""

CREATE = f"""
mutation Create($input: CreateCustomerInput!) {{
  createCustomer(input: $input) {{
    customer {{ {CUSTOMER_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
"""


async def create_customer(api: Api, **fields: Any) -> dict[str, Any]:
    """Create a customer that must succeed; returns every field of it."""
    fields.setdefault("displayName", "Customer")
    data = await api.data(CREATE, {"input": fields})
    payload = data["createCustomer"]
    assert payload["userErrors"] == [], payload["userErrors"]
    customer: dict[str, Any] = payload["customer"]
    return customer


async def create_customer_errors(api: Api, **fields: Any) -> list[dict[str, Any]]:
    """Create a customer that must fail; returns its userErrors."""
    data = await api.data(CREATE, {"input": fields})
    payload = data["createCustomer"]
    assert payload["customer"] is None, payload
    errors: list[dict[str, Any]] = payload["userErrors"]
    assert errors
    return errors


# ---------------------------------------------------------------- customer lists (queries)

ARCHIVE = """
mutation Archive($id: ID!) {
  archiveCustomer(input: {id: $id}) { customer { id isArchived } userErrors { field code } }
}
"""

UPDATE = """
mutation Update($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) { customer { id updatedAt } userErrors { field code } }
}
"""

CUSTOMERS_PAGE = """
query Customers(
  $first: Int, $after: String, $last: Int, $before: String, $filter: String, $search: String,
  $ids: [ID!], $ingestAlias: String, $salesforceAccountIds: [String!],
  $archived: ArchivedFilter, $orderBy: CustomerOrder
) {
  customers(
    first: $first, after: $after, last: $last, before: $before, filter: $filter,
    search: $search, ids: $ids, ingestAlias: $ingestAlias,
    salesforceAccountIds: $salesforceAccountIds, archived: $archived, orderBy: $orderBy
  ) {
    edges { cursor node { id displayName email } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    totalCount
  }
}
"""


async def create_customers(api: Api, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Create customers in one request, in list order (mutations run serially); all succeed."""
    if not inputs:
        return []
    params = ", ".join(f"$i{n}: CreateCustomerInput!" for n in range(len(inputs)))
    fields = "\n".join(
        f"c{n}: createCustomer(input: $i{n}) {{ customer {{ {CUSTOMER_FIELDS} }} "
        "userErrors { field message code } }"
        for n in range(len(inputs))
    )
    variables = {f"i{n}": {"displayName": "Customer", **item} for n, item in enumerate(inputs)}
    data = await api.data(f"mutation CreateMany({params}) {{ {fields} }}", variables)
    created: list[dict[str, Any]] = []
    for n in range(len(inputs)):
        payload = data[f"c{n}"]
        assert payload["userErrors"] == [], payload["userErrors"]
        created.append(payload["customer"])
    return created


async def archive_customer(api: Api, customer_id: str) -> None:
    data = await api.data(ARCHIVE, {"id": customer_id})
    payload = data["archiveCustomer"]
    assert payload["userErrors"] == [], payload["userErrors"]
    assert payload["customer"]["isArchived"] is True


async def update_customer(api: Api, customer_id: str, **fields: Any) -> dict[str, Any]:
    """Update a customer (must succeed); returns its id and updatedAt."""
    data = await api.data(UPDATE, {"input": {"id": customer_id, **fields}})
    payload = data["updateCustomer"]
    assert payload["userErrors"] == [], payload["userErrors"]
    customer: dict[str, Any] = payload["customer"]
    return customer


async def customers_page(api: Api, **arguments: Any) -> dict[str, Any]:
    """One `customers` connection (edges, pageInfo, totalCount) that must have no errors."""
    data = await api.data(CUSTOMERS_PAGE, arguments)
    connection: dict[str, Any] = data["customers"]
    return connection


async def customer_ids(api: Api, **arguments: Any) -> list[str]:
    """The ids of one `customers` page, in order."""
    connection = await customers_page(api, **arguments)
    return [edge["node"]["id"] for edge in connection["edges"]]


def single_error(body: dict[str, Any], code: str = "BAD_USER_INPUT") -> dict[str, Any]:
    """The one error of a response body, which must carry `code` (and never a masked 500)."""
    errors = body.get("errors")
    assert errors, body
    assert len(errors) == 1, errors
    error: dict[str, Any] = errors[0]
    assert error["extensions"]["code"] == code, error
    return error
