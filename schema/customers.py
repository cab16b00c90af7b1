"""Customer and its small objects, customer inputs and payloads, and the customer fields."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from domain.ids import encode_global_id
from resolvers import customers as resolve
from resolvers.children import ChildKey
from resolvers.context import Info
from resolvers.customers import CustomerQuery
from resolvers.mutations import Result
from resolvers.pagination import Page, PageArgs
from schema.billing import BillableMetric
from schema.common import CustomField, CustomFieldInput
from schema.connections import Connection, connection
from schema.errors import UserError, user_errors
from schema.inputs import input_dict
from schema.instances import Instance, InstanceStatus
from schema.plans import Subscription, SubscriptionStatus
from schema.relay import Node, PageInfo, entity
from schema.rows import RowBacked, from_row, member
from schema.usage import CostBucket
from schema.usage import costs as usage_costs


@strawberry.enum
class AccountType(Enum):
    INDIVIDUAL = "INDIVIDUAL"
    BUSINESS = "BUSINESS"


@strawberry.enum
class BillableStatusValue(Enum):
    BILLABLE = "BILLABLE"
    UNBILLABLE = "UNBILLABLE"


@strawberry.enum
class BillingProviderType(Enum):
    AWS_MARKETPLACE = "AWS_MARKETPLACE"
    STRIPE = "STRIPE"
    NETSUITE = "NETSUITE"
    CUSTOM = "CUSTOM"
    AZURE_MARKETPLACE = "AZURE_MARKETPLACE"
    QUICKBOOKS_ONLINE = "QUICKBOOKS_ONLINE"
    WORKDAY = "WORKDAY"
    GCP_MARKETPLACE = "GCP_MARKETPLACE"


@strawberry.enum
class StripeCollectionMethod(Enum):
    CHARGE_AUTOMATICALLY = "CHARGE_AUTOMATICALLY"
    SEND_INVOICE = "SEND_INVOICE"


@strawberry.enum
class DeliveryMethod(Enum):
    DIRECT_TO_BILLING_PROVIDER = "DIRECT_TO_BILLING_PROVIDER"
    AWS_SQS = "AWS_SQS"
    TACKLE = "TACKLE"
    AWS_SNS = "AWS_SNS"


@strawberry.enum(description="Which customers a list shows: ACTIVE (default), ARCHIVED or ALL.")
class ArchivedFilter(Enum):
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"
    ALL = "ALL"


@strawberry.enum
class CustomerOrderField(Enum):
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"
    DISPLAY_NAME = "DISPLAY_NAME"
    EMAIL = "EMAIL"


@strawberry.enum
class SortDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.type
class BillingConfig:
    billing_provider_type: BillingProviderType
    billing_provider_customer_id: str
    stripe_collection_method: StripeCollectionMethod | None = None
    aws_product_code: str | None = None
    aws_region: str | None = None
    aws_is_subscription_product: bool | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> BillingConfig | None:
        if not data:
            return None
        method = data.get("stripeCollectionMethod")
        return cls(
            billing_provider_type=BillingProviderType(data["billingProviderType"]),
            billing_provider_customer_id=data["billingProviderCustomerId"],
            stripe_collection_method=StripeCollectionMethod(method) if method else None,
            aws_product_code=data.get("awsProductCode"),
            aws_region=data.get("awsRegion"),
            aws_is_subscription_product=data.get("awsIsSubscriptionProduct"),
        )


@strawberry.type
class BillingProviderConfiguration:
    billing_provider: BillingProviderType
    delivery_method: DeliveryMethod | None
    delivery_method_id: str | None
    configuration: JSON

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BillingProviderConfiguration:
        method = data.get("deliveryMethod")
        return cls(
            billing_provider=BillingProviderType(data["billingProvider"]),
            delivery_method=DeliveryMethod(method) if method else None,
            delivery_method_id=data.get("deliveryMethodId"),
            configuration=cast(JSON, data.get("configuration") or {}),
        )


@strawberry.type
class CustomerConfig:
    salesforce_account_id: str | None
    leave_stripe_invoices_in_draft: bool | None


@strawberry.type
class BillableStatus:
    value: BillableStatusValue
    effective_at: datetime


@strawberry.federation.type(keys=["id"], description="An end-customer of the tenant.")
class Customer(RowBacked, Node):
    id: strawberry.ID
    handle: str | None
    external_id: str | None
    account_type: AccountType
    display_name: str = strawberry.field(description="At most 160 characters (longer is cut).")
    company_name: str | None = strawberry.field(description="At most 200 characters.")
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    country_code: str | None = strawberry.field(description="ISO 3166-1 alpha-2.")
    currency: str | None = strawberry.field(description="ISO 4217.")
    locale: str | None = strawberry.field(description="BCP 47 language tag.")
    timezone: str | None = strawberry.field(description="IANA time zone.")
    industry: str | None
    description: str | None
    runbook: str | None
    stripe_customer_id: str | None
    version: int = strawberry.field(description="Bumped by every change; see expectedVersion.")
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None
    is_archived: bool
    pk: strawberry.Private[int]
    row: strawberry.Private[Any]  # the JSON-backed objects below are built when asked for

    @strawberry.field
    def custom_fields(self) -> list[CustomField]:
        return [CustomField(key=k, value=v) for k, v in sorted(self.row.custom_fields.items())]

    @strawberry.field
    def billing_config(self) -> BillingConfig | None:
        return BillingConfig.from_json(self.row.billing_config)

    @strawberry.field
    def billing_provider_configurations(self) -> list[BillingProviderConfiguration]:
        return [
            BillingProviderConfiguration.from_json(item)
            for item in self.row.billing_provider_configurations
        ]

    @strawberry.field
    def config(self) -> CustomerConfig:
        return CustomerConfig(
            salesforce_account_id=self.row.salesforce_account_id,
            leave_stripe_invoices_in_draft=self.row.leave_stripe_invoices_in_draft,
        )

    @strawberry.field
    def billable_status(self) -> BillableStatus:
        return BillableStatus(
            value=BillableStatusValue(self.row.billable_status),
            effective_at=self.row.billable_status_effective_at,
        )

    @strawberry.field(description="Names usage events may use for this customer.")
    async def ingest_aliases(self, info: Info) -> list[str]:
        rows = await info.context.loaders.ingest_aliases_by_customer_id.load(self.pk)
        return [row.alias for row in rows]

    def _with_status(self, page: PageArgs, status: Sequence[Enum] | None) -> ChildKey:
        return ChildKey(self.pk, page, status_filters(status))

    @strawberry.field(description="Newest first (by startedAt). first/last at most 100.")
    async def subscriptions(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        status: list[SubscriptionStatus] | None = None,
    ) -> Connection[Subscription]:
        key = self._with_status(PageArgs(first, after, last, before), status)
        page = await info.context.loaders.subscription_page_by_customer_id.load(key)
        return connection(page, Subscription.from_row)

    @strawberry.field(description="Newest first (by createdAt). first/last at most 100.")
    async def instances(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        status: list[InstanceStatus] | None = None,
    ) -> Connection[Instance]:
        key = self._with_status(PageArgs(first, after, last, before), status)
        page = await info.context.loaders.instance_page_by_customer_id.load(key)
        return connection(page, Instance.from_row)

    @strawberry.field(
        description="Metrics charged by the plans of this customer's subscriptions (only "
        "ACTIVE or TRIALING ones with onCurrentPlan), newest first. Needs read:billing."
    )
    async def billable_metrics(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        include_archived: bool | None = False,
        on_current_plan: bool | None = False,
    ) -> Connection[BillableMetric]:
        info.context.principal.require("read:billing")
        filters = (bool(include_archived), bool(on_current_plan))
        key = ChildKey(self.pk, PageArgs(first, after, last, before), filters)
        page = await info.context.loaders.billable_metric_page_by_customer_id.load(key)
        return connection(page, BillableMetric.from_row)

    @strawberry.field(
        description="Daily UTC costs in [startingOn, endingBefore): both at midnight UTC, at "
        "most 92 days. Only days with an active subscription. Needs read:billing."
    )
    async def costs(
        self, info: Info, starting_on: datetime, ending_before: datetime
    ) -> list[CostBucket]:
        return await usage_costs(info, self.pk, starting_on, ending_before)

    async def _stats(self, info: Info) -> Any:
        return await info.context.loaders.customer_stats_by_id.load(self.pk)

    @strawberry.field(description="All subscriptions.")
    async def subscription_count(self, info: Info) -> int:
        return int((await self._stats(info)).subscriptions)

    @strawberry.field(description="ACTIVE or TRIALING subscriptions.")
    async def active_subscription_count(self, info: Info) -> int:
        return int((await self._stats(info)).active_subscriptions)

    @strawberry.field(description="The status of the most recently started subscription.")
    async def latest_subscription_status(self, info: Info) -> SubscriptionStatus | None:
        status = (await self._stats(info)).latest_status
        return None if status is None else SubscriptionStatus(status)

    @strawberry.field(description="Instances that are not TERMINATED.")
    async def instance_count(self, info: Info) -> int:
        return int((await self._stats(info)).instances)

    @strawberry.field(description="RUNNING instances.")
    async def running_instance_count(self, info: Info) -> int:
        return int((await self._stats(info)).running_instances)

    @classmethod
    def from_row(cls, row: Any) -> Customer:
        """Build from a row of customer columns (or a Customer model instance)."""
        return from_row(
            cls,
            row,
            id=strawberry.ID(encode_global_id("Customer", row.id)),
            pk=row.id,
            account_type=member(AccountType, row.account_type),
            is_archived=row.archived_at is not None,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Customer | None:
        return await entity(cls, info, id)


async def load_customer(info: Info, pk: int) -> Customer:
    """The customer a row points to, through the request's loader."""
    return Customer.from_row(await info.context.loaders.customer_by_id.load(pk))


def status_filters(status: Sequence[Enum] | None) -> tuple[Any, ...]:
    """A child page's filters: the status list normalised (sorted, no repeats)."""
    return (None if status is None else tuple(sorted({s.value for s in status})),)


@strawberry.type
class CustomerEdge:
    cursor: str
    node: Customer


@strawberry.type
class CustomerConnection:
    @strawberry.field
    def edges(self) -> list[CustomerEdge]:
        """Built when asked for: each edge's cursor is signed then."""
        return [CustomerEdge(cursor=self.page.cursor(i), node=n) for i, n in enumerate(self.nodes)]

    nodes: list[Customer]

    @strawberry.field
    def page_info(self) -> PageInfo:
        return PageInfo.from_page(self.page)

    page: strawberry.Private[Page]

    @strawberry.field(description="How many customers match, over all pages (one COUNT).")
    async def total_count(self) -> int:
        return await self.page.count()

    @classmethod
    def from_page(cls, page: Page) -> CustomerConnection:
        return cls(nodes=[Customer.from_row(row) for row in page.rows], page=page)


@strawberry.input
class CustomerOrder:
    field: CustomerOrderField
    direction: SortDirection


@strawberry.input
class BillingConfigInput:
    billing_provider_type: BillingProviderType
    billing_provider_customer_id: str
    stripe_collection_method: StripeCollectionMethod | None = None
    aws_product_code: str | None = None
    aws_region: str | None = None
    aws_is_subscription_product: bool | None = None


@strawberry.input
class BillingProviderConfigurationInput:
    billing_provider: BillingProviderType
    delivery_method: DeliveryMethod | None = None
    delivery_method_id: str | None = None
    configuration: JSON | None = None


@strawberry.input
class CustomerConfigInput:
    salesforce_account_id: str | None = strawberry.UNSET
    leave_stripe_invoices_in_draft: bool | None = strawberry.UNSET


@strawberry.input
class CreateCustomerInput:
    handle: str | None = strawberry.UNSET
    external_id: str | None = strawberry.UNSET
    ingest_aliases: list[str] | None = strawberry.UNSET
    account_type: AccountType | None = AccountType.BUSINESS
    display_name: str | None = strawberry.UNSET
    company_name: str | None = strawberry.UNSET
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    country_code: str | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    locale: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    industry: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    runbook: str | None = strawberry.UNSET
    custom_fields: list[CustomFieldInput] | None = strawberry.UNSET
    billing_config: BillingConfigInput | None = strawberry.UNSET
    billing_provider_configurations: list[BillingProviderConfigurationInput] | None = (
        strawberry.UNSET
    )
    config: CustomerConfigInput | None = strawberry.UNSET
    stripe_customer_id: str | None = strawberry.UNSET


@strawberry.input(
    description="Omitted fields are unchanged, explicit nulls clear. With updateMask only the "
    "listed fields change and a listed field not given is cleared (AIP-134)."
)
class UpdateCustomerInput:
    id: strawberry.ID
    expected_version: int | None = strawberry.UNSET
    update_mask: list[str] | None = strawberry.UNSET
    handle: str | None = strawberry.UNSET
    external_id: str | None = strawberry.UNSET
    account_type: AccountType | None = strawberry.UNSET
    display_name: str | None = strawberry.UNSET
    company_name: str | None = strawberry.UNSET
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    country_code: str | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    locale: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    industry: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    runbook: str | None = strawberry.UNSET
    custom_fields: list[CustomFieldInput] | None = strawberry.UNSET
    billing_config: BillingConfigInput | None = strawberry.UNSET
    billing_provider_configurations: list[BillingProviderConfigurationInput] | None = (
        strawberry.UNSET
    )
    stripe_customer_id: str | None = strawberry.UNSET
    billable_status: BillableStatusValue | None = strawberry.UNSET


@strawberry.input
class SetCustomerNameInput:
    id: strawberry.ID
    name: str


@strawberry.input
class SetCustomerIngestAliasesInput:
    id: strawberry.ID
    ingest_aliases: list[str]


@strawberry.input
class UpdateCustomerConfigInput:
    id: strawberry.ID
    salesforce_account_id: str | None = strawberry.UNSET
    leave_stripe_invoices_in_draft: bool | None = strawberry.UNSET


@strawberry.input
class ArchiveCustomerInput:
    id: strawberry.ID


@strawberry.input
class RestoreCustomerInput:
    id: strawberry.ID


@strawberry.input(
    description="Copies accountType, country, currency, locale, timezone, industry, "
    "description, runbook; with cloneRules also custom fields, billing config, provider "
    "configurations, customer config and new ACTIVE subscriptions on the plans of the "
    "source's ACTIVE or TRIALING ones. Never handle, externalId, aliases, instances, usage "
    "or stripeCustomerId."
)
class CloneCustomerInput:
    source_customer_id: strawberry.ID
    company_name: str
    email: str | None = strawberry.UNSET
    display_name: str | None = strawberry.UNSET
    clone_rules: bool | None = True


@strawberry.type
class CloneCustomerPayload:
    customer: Customer | None
    user_errors: list[UserError]


@strawberry.type
class CreateCustomerPayload:
    customer: Customer | None
    user_errors: list[UserError]


@strawberry.type
class UpdateCustomerPayload:
    customer: Customer | None
    user_errors: list[UserError]


@strawberry.type
class ArchiveCustomerPayload:
    customer: Customer | None
    user_errors: list[UserError]


@strawberry.type
class RestoreCustomerPayload:
    customer: Customer | None
    user_errors: list[UserError]


def _customer_and_errors(outcome: Result) -> dict[str, Any]:
    customer = None if outcome.row is None else Customer.from_row(outcome.row)
    return {"customer": customer, "user_errors": user_errors(outcome.problems)}


# ---------------------------------------------------------------- root fields

Arg = strawberry.argument


async def customer(
    info: Info,
    id: strawberry.ID | None = None,
    handle: str | None = None,
    external_id: str | None = None,
    ingest_alias: str | None = None,
) -> Customer | None:
    """One customer by exactly one key. Archived customers are found by id only."""
    row = await resolve.resolve_customer(
        info.context, id=id, handle=handle, external_id=external_id, ingest_alias=ingest_alias
    )
    return None if row is None else Customer.from_row(row)


async def customers(
    info: Info,
    first: Annotated[int | None, Arg(description="At most 100; default 20.")] = None,
    after: str | None = None,
    last: Annotated[int | None, Arg(description="At most 100.")] = None,
    before: str | None = None,
    filter: Annotated[
        str | None, Arg(description='AIP-160 filter, e.g. display_name : "*acme*".')
    ] = None,
    search: Annotated[
        str | None, Arg(description="Substring of email, display or company name.")
    ] = None,
    ids: Annotated[list[strawberry.ID] | None, Arg(description="At most 100 IDs.")] = None,
    ingest_alias: str | None = None,
    salesforce_account_ids: list[str] | None = None,
    archived: ArchivedFilter | None = ArchivedFilter.ACTIVE,
    order_by: Annotated[CustomerOrder | None, Arg(description="Default: CREATED_AT DESC.")] = None,
) -> CustomerConnection:
    """A page of the tenant's customers."""
    query = customer_query(
        first=first,
        after=after,
        last=last,
        before=before,
        filter=filter,
        search=search,
        ids=ids,
        ingest_alias=ingest_alias,
        salesforce_account_ids=salesforce_account_ids,
        archived=archived,
        order_by=order_by,
    )
    return CustomerConnection.from_page(await resolve.resolve_customers(info.context, query))


def customer_query(
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: str | None = None,
    search: str | None = None,
    ids: list[strawberry.ID] | None = None,
    ingest_alias: str | None = None,
    salesforce_account_ids: list[str] | None = None,
    archived: ArchivedFilter | None = ArchivedFilter.ACTIVE,
    order_by: CustomerOrder | None = None,
) -> CustomerQuery:
    """`Query.customers`'s arguments, as Strawberry converts them, for the resolvers."""
    return CustomerQuery(
        page=PageArgs(first=first, after=after, last=last, before=before),
        filter=filter,
        search=search,
        ids=[str(value) for value in ids] if ids is not None else None,
        ingest_alias=ingest_alias,
        salesforce_account_ids=salesforce_account_ids,
        archived=(archived or ArchivedFilter.ACTIVE).value,
        order_field=order_by.field.value if order_by else "CREATED_AT",
        order_direction=order_by.direction.value if order_by else "DESC",
    )


async def create_customer(info: Info, input: CreateCustomerInput) -> CreateCustomerPayload:
    outcome = await resolve.create_customer(info.context, input_dict(input))
    return CreateCustomerPayload(**_customer_and_errors(outcome))


async def update_customer(info: Info, input: UpdateCustomerInput) -> UpdateCustomerPayload:
    outcome = await resolve.update_customer(info.context, input_dict(input))
    return UpdateCustomerPayload(**_customer_and_errors(outcome))


async def set_customer_name(info: Info, input: SetCustomerNameInput) -> UpdateCustomerPayload:
    outcome = await resolve.set_customer_name(info.context, str(input.id), input.name)
    return UpdateCustomerPayload(**_customer_and_errors(outcome))


async def set_customer_ingest_aliases(
    info: Info, input: SetCustomerIngestAliasesInput
) -> UpdateCustomerPayload:
    outcome = await resolve.set_customer_ingest_aliases(
        info.context, str(input.id), list(input.ingest_aliases)
    )
    return UpdateCustomerPayload(**_customer_and_errors(outcome))


async def update_customer_config(
    info: Info, input: UpdateCustomerConfigInput
) -> UpdateCustomerPayload:
    outcome = await resolve.update_customer_config(info.context, input_dict(input))
    return UpdateCustomerPayload(**_customer_and_errors(outcome))


async def archive_customer(info: Info, input: ArchiveCustomerInput) -> ArchiveCustomerPayload:
    outcome = await resolve.archive_customer(info.context, str(input.id))
    return ArchiveCustomerPayload(**_customer_and_errors(outcome))


async def restore_customer(info: Info, input: RestoreCustomerInput) -> RestoreCustomerPayload:
    outcome = await resolve.restore_customer(info.context, str(input.id))
    return RestoreCustomerPayload(**_customer_and_errors(outcome))


async def clone_customer(info: Info, input: CloneCustomerInput) -> CloneCustomerPayload:
    from resolvers.clone import clone_customer as clone

    values = input_dict(input)
    values["sourceCustomerId"] = str(input.source_customer_id)
    result = await clone(info.context, values)
    customer = None if result.row is None else Customer.from_row(result.row)
    return CloneCustomerPayload(customer=customer, user_errors=user_errors(result.problems))
