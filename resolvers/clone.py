"""cloneCustomer: a new customer in the caller's tenant from one of its customers (API.md)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.customers import clean_fields, derive_display_name
from domain.problems import Code, Problem
from models import Customer, Plan, Subscription
from models.base import utcnow
from resolvers.context import Context
from resolvers.events import record
from resolvers.mutations import Result, locked, run_mutation
from resolvers.specs import ACTIVE_STATUSES

ALWAYS_COPIED = (
    "account_type",
    "country_code",
    "currency",
    "locale",
    "timezone",
    "industry",
    "description",
    "runbook",
)
COPIED_WITH_RULES = (
    "custom_fields",
    "billing_config",
    "billing_provider_configurations",
    "salesforce_account_id",
    "leave_stripe_invoices_in_draft",
)


async def clone_customer(ctx: Context, values: dict[str, Any]) -> Result:
    """Never copies handle, externalId, ingest aliases, instances, usage or stripeCustomerId."""
    ctx.principal.require("write:customers")
    given = {
        k: values.get(k)
        for k in ("companyName", "email", "displayName")
        if values.get(k) is not None
    }
    columns, problems = clean_fields(given)
    display_name = derive_display_name(given)
    if display_name is None:
        problems.append(Problem(Code.REQUIRED, ("input", "companyName"), "Must not be empty"))
    if problems:
        return Result(None, problems)
    clone_rules = values.get("cloneRules") is not False

    async def work(session: AsyncSession) -> Customer:
        field = ("input", "sourceCustomerId")
        source: Customer = await locked(
            session, Customer, values["sourceCustomerId"], "Customer", field
        )
        copied = {name: getattr(source, name) for name in ALWAYS_COPIED}
        if clone_rules:
            copied |= {name: getattr(source, name) for name in COPIED_WITH_RULES}
        now = utcnow()
        clone = Customer(
            **copied,
            **(columns | {"display_name": display_name}),
            tenant_id=ctx.principal.tenant_id,
            created_at=now,
            updated_at=now,
            billable_status_effective_at=now,
            version=1,
        )
        session.add(clone)
        await session.flush()
        await record(session, clone, "CLONED")
        if clone_rules:
            plans = await session.scalars(
                select(Subscription.plan_id)
                .join(Plan, Plan.id == Subscription.plan_id)
                .where(
                    Subscription.customer_id == source.id,
                    Subscription.status.in_(ACTIVE_STATUSES),
                    Plan.archived_at.is_(None),  # nobody may subscribe to an archived plan
                )
                .order_by(Subscription.started_at, Subscription.id)
            )
            session.add_all(
                Subscription(
                    tenant_id=ctx.principal.tenant_id,
                    customer_id=clone.id,
                    plan_id=plan_id,
                    status="ACTIVE",
                    started_at=now,
                    created_at=now,
                    updated_at=now,
                )
                for plan_id in plans
            )
        return clone

    result = await run_mutation(ctx, work)
    if result.row is not None:
        ctx.bus.wake(ctx.principal.tenant_id)
    return result
