"""Instances of a customer's product (API.md; decisions in the README)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.ids import decode_int_id
from domain.problems import Code, Problem, Rejected, text_problem
from models import Customer, Instance, Subscription
from models.base import utcnow
from resolvers.context import Context
from resolvers.mutations import Result, locked, run_mutation


def _text_problems(values: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    name = values["name"].strip()
    problem = text_problem(name, ("input", "name"), 200)
    if problem or not name:
        problems.append(problem or Problem(Code.REQUIRED, ("input", "name"), "Must not be empty"))
    region = values.get("region")
    if region is not None and (problem := text_problem(region, ("input", "region"), 64)):
        problems.append(problem)
    return problems


async def create_instance(ctx: Context, values: dict[str, Any]) -> Result:
    ctx.principal.require("write:customers")
    problems = _text_problems(values)
    if problems:
        return Result(None, problems)
    subscription_gid = values.get("subscriptionId")
    subscription_id = (
        None if subscription_gid is None else decode_int_id(subscription_gid, "Subscription")
    )

    async def work(session: AsyncSession) -> Instance:
        field = ("input", "customerId")
        customer = await locked(session, Customer, values["customerId"], "Customer", field)
        if customer.archived_at is not None:
            raise Rejected([Problem(Code.ARCHIVED, field, "This customer is archived")])
        if subscription_gid is not None:
            subscription = (
                None
                if subscription_id is None
                else await session.get(Subscription, subscription_id)
            )
            if subscription is None or subscription.customer_id != customer.id:
                message = "No subscription of this customer has this ID"
                raise Rejected([Problem(Code.NOT_FOUND, ("input", "subscriptionId"), message)])
        now = utcnow()
        instance = Instance(
            tenant_id=ctx.principal.tenant_id,
            customer_id=customer.id,
            subscription_id=subscription_id,
            name=values["name"].strip(),
            region=values.get("region"),
            status=values.get("status") or "PROVISIONING",
            created_at=now,
            updated_at=now,
        )
        session.add(instance)
        return instance

    return await run_mutation(ctx, work)


async def set_instance_status(ctx: Context, global_id: str, status: str) -> Result:
    ctx.principal.require("write:customers")

    async def work(session: AsyncSession) -> Instance:
        instance: Instance = await locked(session, Instance, global_id, "Instance", ("input", "id"))
        if instance.status == status:
            return instance
        if instance.status == "TERMINATED":
            message = "A terminated instance can not change status"
            raise Rejected([Problem(Code.INVALID, ("input", "status"), message)])
        instance.status = status
        instance.updated_at = utcnow()
        return instance

    return await run_mutation(ctx, work)
