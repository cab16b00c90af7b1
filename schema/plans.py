"""Plan, Charge and Subscription; their inputs, payloads and fields."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from domain.ids import encode_global_id
from resolvers import plans as resolve
from resolvers.context import Info
from resolvers.pagination import PageArgs
from schema.billing import BillableMetric
from schema.connections import Connection, connection
from schema.errors import UserError, user_errors
from schema.inputs import input_dict
from schema.relay import Node, entity
from schema.rows import RowBacked, from_row, member

if TYPE_CHECKING:
    from schema.customers import Customer

Arg = strawberry.argument


@strawberry.enum
class SubscriptionStatus(Enum):
    PENDING = "PENDING"
    TRIALING = "TRIALING"
    ACTIVE = "ACTIVE"
    PAST_DUE = "PAST_DUE"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"


@strawberry.type(description="What a plan charges per unit of one billable metric.")
class Charge:
    unit_price: Decimal
    credit_type: str
    metric_pk: strawberry.Private[int]

    @strawberry.field
    async def billable_metric(self, info: Info) -> BillableMetric:
        row = await info.context.loaders.billable_metric_by_id.load(self.metric_pk)
        return BillableMetric.from_row(row)


@strawberry.federation.type(keys=["id"], description="A price list: charges per billable metric.")
class Plan(Node):
    id: strawberry.ID
    name: str
    description: str | None
    created_at: datetime
    archived_at: datetime | None
    pk: strawberry.Private[int]

    @strawberry.field
    async def charges(self, info: Info) -> list[Charge]:
        """Needs read:billing (prices and metrics are billing data)."""
        info.context.principal.require("read:billing")
        rows = await info.context.loaders.charges_by_plan_id.load(self.pk)
        return [
            Charge(
                unit_price=r.unit_price, credit_type=r.credit_type, metric_pk=r.billable_metric_id
            )
            for r in rows
        ]

    @classmethod
    def from_row(cls, row: Any) -> Plan:
        return cls(
            id=strawberry.ID(encode_global_id("Plan", row.id)),
            name=row.name,
            description=row.description,
            created_at=row.created_at,
            archived_at=row.archived_at,
            pk=row.id,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Plan | None:
        return await entity(cls, info, id)


@strawberry.federation.type(keys=["id"], description="A customer's subscription to a plan.")
class Subscription(RowBacked, Node):
    id: strawberry.ID
    status: SubscriptionStatus
    started_at: datetime
    ends_at: datetime | None
    canceled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    customer_pk: strawberry.Private[int]
    plan_pk: strawberry.Private[int]

    @strawberry.field
    async def customer(
        self, info: Info
    ) -> Annotated[Customer, strawberry.lazy("schema.customers")]:
        from schema.customers import load_customer

        return await load_customer(info, self.customer_pk)

    @strawberry.field
    async def plan(self, info: Info) -> Plan:
        return Plan.from_row(await info.context.loaders.plan_by_id.load(self.plan_pk))

    @classmethod
    def from_row(cls, row: Any) -> Subscription:
        return from_row(
            cls,
            row,
            id=strawberry.ID(encode_global_id("Subscription", row.id)),
            status=member(SubscriptionStatus, row.status),
            customer_pk=row.customer_id,
            plan_pk=row.plan_id,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Subscription | None:
        return await entity(cls, info, id)


@strawberry.input
class ChargeInput:
    billable_metric_id: strawberry.ID
    unit_price: Decimal = strawberry.field(description="Zero or more; at most 12 decimals.")
    credit_type: str | None = "USD"


@strawberry.input
class CreatePlanInput:
    name: str = strawberry.field(description="1 to 200 characters.")
    charges: list[ChargeInput] = strawberry.field(description="At most 100.")
    description: str | None = strawberry.UNSET


@strawberry.input
class CreateSubscriptionInput:
    customer_id: strawberry.ID
    plan_id: strawberry.ID
    status: SubscriptionStatus | None = SubscriptionStatus.ACTIVE
    started_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="Default: now."
    )
    ends_at: datetime | None = strawberry.UNSET


@strawberry.input
class CancelSubscriptionInput:
    id: strawberry.ID
    at: datetime | None = strawberry.field(default=strawberry.UNSET, description="Default: now.")


@strawberry.type
class CreatePlanPayload:
    plan: Plan | None
    user_errors: list[UserError]


@strawberry.type
class CreateSubscriptionPayload:
    subscription: Subscription | None
    user_errors: list[UserError]


@strawberry.type
class CancelSubscriptionPayload:
    subscription: Subscription | None
    user_errors: list[UserError]


async def plans(
    info: Info,
    first: Annotated[int | None, Arg(description="At most 100; default 20.")] = None,
    after: str | None = None,
    last: Annotated[int | None, Arg(description="At most 100.")] = None,
    before: str | None = None,
    include_archived: bool | None = False,
) -> Connection[Plan]:
    """The tenant's plans, newest first. Needs read:billing."""
    page = PageArgs(first=first, after=after, last=last, before=before)
    result = await resolve.resolve_plans(info.context, page, bool(include_archived))
    return connection(result, Plan.from_row)


async def create_plan(info: Info, input: CreatePlanInput) -> CreatePlanPayload:
    result = await resolve.create_plan(info.context, input_dict(input))
    plan = None if result.row is None else Plan.from_row(result.row)
    return CreatePlanPayload(plan=plan, user_errors=user_errors(result.problems))


def _subscription(row: Any) -> Subscription | None:
    return None if row is None else Subscription.from_row(row)


async def create_subscription(
    info: Info, input: CreateSubscriptionInput
) -> CreateSubscriptionPayload:
    values = input_dict(input)
    values["customerId"], values["planId"] = str(input.customer_id), str(input.plan_id)
    result = await resolve.create_subscription(info.context, values)
    return CreateSubscriptionPayload(
        subscription=_subscription(result.row), user_errors=user_errors(result.problems)
    )


async def cancel_subscription(
    info: Info, input: CancelSubscriptionInput
) -> CancelSubscriptionPayload:
    at = input.at if isinstance(input.at, datetime) else None
    result = await resolve.cancel_subscription(info.context, str(input.id), at)
    return CancelSubscriptionPayload(
        subscription=_subscription(result.row), user_errors=user_errors(result.problems)
    )
