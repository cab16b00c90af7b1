"""Instance, its inputs, payloads and fields."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from domain.ids import encode_global_id
from resolvers import instances as resolve
from resolvers.context import Info
from schema.errors import UserError, user_errors
from schema.inputs import input_dict
from schema.plans import Subscription
from schema.relay import Node, entity
from schema.rows import RowBacked, from_row, member

if TYPE_CHECKING:
    from schema.customers import Customer


@strawberry.enum
class InstanceStatus(Enum):
    PROVISIONING = "PROVISIONING"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    FAILED = "FAILED"
    TERMINATED = "TERMINATED"


@strawberry.federation.type(keys=["id"], description="A running instance of a customer's product.")
class Instance(RowBacked, Node):
    id: strawberry.ID
    name: str
    status: InstanceStatus
    region: str | None
    created_at: datetime
    updated_at: datetime
    customer_pk: strawberry.Private[int]
    subscription_pk: strawberry.Private[int | None]

    @strawberry.field
    async def customer(
        self, info: Info
    ) -> Annotated[Customer, strawberry.lazy("schema.customers")]:
        from schema.customers import load_customer

        return await load_customer(info, self.customer_pk)

    @strawberry.field
    async def subscription(self, info: Info) -> Subscription | None:
        if self.subscription_pk is None:
            return None
        row = await info.context.loaders.subscription_by_id.load(self.subscription_pk)
        return None if row is None else Subscription.from_row(row)

    @classmethod
    def from_row(cls, row: Any) -> Instance:
        return from_row(
            cls,
            row,
            id=strawberry.ID(encode_global_id("Instance", row.id)),
            status=member(InstanceStatus, row.status),
            customer_pk=row.customer_id,
            subscription_pk=row.subscription_id,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Instance | None:
        return await entity(cls, info, id)


@strawberry.input
class CreateInstanceInput:
    customer_id: strawberry.ID
    name: str = strawberry.field(description="1 to 200 characters.")
    subscription_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="A subscription of the same customer."
    )
    region: str | None = strawberry.UNSET
    status: InstanceStatus | None = InstanceStatus.PROVISIONING


@strawberry.input
class SetInstanceStatusInput:
    id: strawberry.ID
    status: InstanceStatus


@strawberry.type
class CreateInstancePayload:
    instance: Instance | None
    user_errors: list[UserError]


@strawberry.type
class SetInstanceStatusPayload:
    instance: Instance | None
    user_errors: list[UserError]


def _instance(row: Any) -> Instance | None:
    return None if row is None else Instance.from_row(row)


async def create_instance(info: Info, input: CreateInstanceInput) -> CreateInstancePayload:
    values = input_dict(input)
    values["customerId"] = str(input.customer_id)
    if isinstance(input.subscription_id, str):
        values["subscriptionId"] = str(input.subscription_id)
    result = await resolve.create_instance(info.context, values)
    return CreateInstancePayload(
        instance=_instance(result.row), user_errors=user_errors(result.problems)
    )


async def set_instance_status(
    info: Info, input: SetInstanceStatusInput
) -> SetInstanceStatusPayload:
    result = await resolve.set_instance_status(info.context, str(input.id), input.status.value)
    return SetInstanceStatusPayload(
        instance=_instance(result.row), user_errors=user_errors(result.problems)
    )
