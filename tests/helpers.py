"""Small async builders shared by the tests (no factory framework)."""

from __future__ import annotations

import json
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


def canonical(body: dict[str, Any]) -> dict[str, Any]:
    """A response body with its errors as a set (the spec leaves their order open)."""
    errors = body.get("errors")
    if errors is not None:
        body = {**body, "errors": sorted(json.dumps(e, sort_keys=True) for e in errors)}
    return body


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


BATCH_CHUNK = 10  # aliases and tokens per request stay under the query limits


async def create_customer_batch(api: Api, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Create customers, in list order, a few per request (mutations run serially)."""
    created: list[dict[str, Any]] = []
    for start in range(0, len(inputs), BATCH_CHUNK):
        created += await _create_chunk(api, inputs[start : start + BATCH_CHUNK])
    return created


async def _create_chunk(api: Api, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


# ---------------------------------------------------------------- plans, subscriptions, instances,
# billable metrics (builders that must succeed; each returns every field of what it created)

METRIC_FIELDS = """
  id name aggregationType aggregationKey
  eventTypeFilter { inValues notInValues }
  propertyFilters { name exists inValues notInValues }
  groupKeys customFields { key value } sql createdAt archivedAt
"""
PLAN_FIELDS = """
  id name description createdAt archivedAt
  charges { billableMetric { id name } unitPrice creditType }
"""
SUBSCRIPTION_FIELDS = """
  id status startedAt endsAt canceledAt createdAt updatedAt
  customer { id } plan { id }
"""
INSTANCE_FIELDS = """
  id name status region createdAt updatedAt customer { id } subscription { id }
"""


async def _create_object(
    api: Api, mutation: str, input_type: str, result: str, fields: str, values: dict[str, Any]
) -> dict[str, Any]:
    """Run `mutation(input: values)`, which must succeed; returns `fields` of its `result`."""
    query = (
        f"mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ "
        f"{result} {{ {fields} }} userErrors {{ field message code }} }} }}"
    )
    data = await api.data(query, {"input": values})
    payload = data[mutation]
    assert payload["userErrors"] == [], payload["userErrors"]
    created: dict[str, Any] = payload[result]
    assert created is not None, payload
    return created


async def create_metric(api: Api, **fields: Any) -> dict[str, Any]:
    """A billable metric (default: COUNT of every event)."""
    values = {"name": "API calls", "aggregationType": "COUNT", **fields}
    mutation, input_type = "createBillableMetric", "CreateBillableMetricInput"
    return await _create_object(api, mutation, input_type, "billableMetric", METRIC_FIELDS, values)


async def create_plan(api: Api, **fields: Any) -> dict[str, Any]:
    """A plan (default: no charges); pass `charges` as a list of ChargeInput dicts."""
    values = {"name": "Plan", "charges": [], **fields}
    return await _create_object(api, "createPlan", "CreatePlanInput", "plan", PLAN_FIELDS, values)


async def create_subscription(
    api: Api, customer_id: str, plan_id: str, **fields: Any
) -> dict[str, Any]:
    """A subscription of the customer to the plan (default: ACTIVE, starting now)."""
    values = {"customerId": customer_id, "planId": plan_id, **fields}
    mutation, input_type = "createSubscription", "CreateSubscriptionInput"
    return await _create_object(
        api, mutation, input_type, "subscription", SUBSCRIPTION_FIELDS, values
    )


async def create_instance(api: Api, customer_id: str, **fields: Any) -> dict[str, Any]:
    """An instance of the customer (default name "instance-1", PROVISIONING)."""
    values = {"customerId": customer_id, "name": "instance-1", **fields}
    mutation, input_type = "createInstance", "CreateInstanceInput"
    return await _create_object(api, mutation, input_type, "instance", INSTANCE_FIELDS, values)
