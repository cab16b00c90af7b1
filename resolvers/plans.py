"""Plans, their charges, and subscriptions (API.md; decisions in the README)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.ids import decode_int_id
from domain.problems import Code, Problem, Rejected, text_problem
from models import BillableMetric, Customer, Plan, PlanCharge, Subscription
from models.base import utcnow
from resolvers.context import Context
from resolvers.lists import resolve_page
from resolvers.mutations import Result, locked, run_mutation
from resolvers.pagination import Page, PageArgs
from resolvers.specs import PLAN_COLUMNS, newest_first

MAX_CHARGES = 100
MAX_PRICE_DIGITS = 26
PLAN_ORDER = newest_first("plans", Plan.created_at)
SUBSCRIPTION_STATUSES = ("PENDING", "TRIALING", "ACTIVE", "PAST_DUE", "CANCELED", "EXPIRED")


async def resolve_plans(ctx: Context, page: PageArgs, include_archived: bool) -> Page:
    ctx.principal.require("read:billing")
    conditions: list[ColumnElement[bool]] = [] if include_archived else [Plan.archived_at.is_(None)]
    return await resolve_page(ctx, PLAN_COLUMNS, PLAN_ORDER, page, conditions)


def _price(value: Any, field: tuple[str, ...], problems: list[Problem]) -> Decimal:
    try:
        price = Decimal(str(value))
    except (InvalidOperation, ValueError):
        problems.append(Problem(Code.INVALID, field, "Must be a decimal number"))
        return Decimal(0)
    if not price.is_finite() or price < 0:
        problems.append(Problem(Code.INVALID, field, "Must be a finite number, zero or more"))
    elif price.as_tuple().exponent < -12 or price.adjusted() >= MAX_PRICE_DIGITS:  # type: ignore[operator]
        problems.append(
            Problem(Code.INVALID, field, "At most 26 digits before and 12 after the point")
        )
    return price


async def create_plan(ctx: Context, values: dict[str, Any]) -> Result:
    ctx.principal.require("write:billing")
    problems: list[Problem] = []
    name = values["name"].strip()
    problem = text_problem(name, ("input", "name"), 200)
    if problem or not name:
        problems.append(problem or Problem(Code.REQUIRED, ("input", "name"), "Must not be empty"))
    description = values.get("description")
    if description is not None and (
        problem := text_problem(description, ("input", "description"), 10_000)
    ):
        problems.append(problem)
    charges = values["charges"]
    if len(charges) > MAX_CHARGES:
        problems.append(
            Problem(Code.LIMIT_EXCEEDED, ("input", "charges"), f"At most {MAX_CHARGES}")
        )
        charges = []
    parsed: list[tuple[int | None, Decimal, str]] = []
    for index, charge in enumerate(charges):
        at = ("input", "charges", str(index))
        metric_id = decode_int_id(charge["billableMetricId"], "BillableMetric")
        if metric_id is None:
            problems.append(
                Problem(Code.NOT_FOUND, (*at, "billableMetricId"), "No billable metric has this ID")
            )
        price = _price(charge["unitPrice"], (*at, "unitPrice"), problems)
        credit_type = (charge.get("creditType") or "USD").strip()
        problem = text_problem(credit_type, (*at, "creditType"), 32)
        if problem or not credit_type:
            problems.append(
                problem or Problem(Code.REQUIRED, (*at, "creditType"), "Must not be empty")
            )
        parsed.append((metric_id, price, credit_type))
    if problems:
        return Result(None, problems)

    async def work(session: AsyncSession) -> Plan:
        wanted = {metric_id for metric_id, _, _ in parsed}
        rows = await session.execute(
            select(BillableMetric.id, BillableMetric.archived_at).where(
                BillableMetric.id.in_(wanted)
            )
        )
        found = {row.id: row.archived_at for row in rows}
        missing: list[Problem] = []
        for index, (metric_id, _, _) in enumerate(parsed):
            at = ("input", "charges", str(index), "billableMetricId")
            if metric_id not in found:
                missing.append(Problem(Code.NOT_FOUND, at, "No billable metric has this ID"))
            elif found[metric_id] is not None:
                missing.append(Problem(Code.ARCHIVED, at, "This billable metric is archived"))
        if missing:
            raise Rejected(missing)
        plan = Plan(
            tenant_id=ctx.principal.tenant_id,
            name=name,
            description=description,
            created_at=utcnow(),
        )
        session.add(plan)
        await session.flush()
        session.add_all(
            PlanCharge(
                tenant_id=ctx.principal.tenant_id,
                plan_id=plan.id,
                billable_metric_id=metric_id,
                unit_price=price,
                credit_type=credit_type,
                position=position,
            )
            for position, (metric_id, price, credit_type) in enumerate(parsed)
        )
        return plan

    return await run_mutation(ctx, work)


async def create_subscription(ctx: Context, values: dict[str, Any]) -> Result:
    ctx.principal.require("write:customers")
    now = utcnow()
    status = values.get("status") or "ACTIVE"
    started_at: datetime = values.get("startedAt") or now
    ends_at: datetime | None = values.get("endsAt")
    problems: list[Problem] = []
    if status == "CANCELED":
        message = "A subscription is canceled with cancelSubscription"
        problems.append(Problem(Code.INVALID, ("input", "status"), message))
    if ends_at is not None and ends_at <= started_at:
        problems.append(Problem(Code.INVALID, ("input", "endsAt"), "Must be after startedAt"))
    plan_id = decode_int_id(values["planId"], "Plan")
    if problems:
        return Result(None, problems)

    async def work(session: AsyncSession) -> Subscription:
        customer = await locked(
            session, Customer, values["customerId"], "Customer", ("input", "customerId")
        )
        if customer.archived_at is not None:
            raise Rejected(
                [Problem(Code.ARCHIVED, ("input", "customerId"), "This customer is archived")]
            )
        plan = None if plan_id is None else await session.get(Plan, plan_id)
        if plan is None:
            raise Rejected([Problem(Code.NOT_FOUND, ("input", "planId"), "No plan has this ID")])
        if plan.archived_at is not None:
            raise Rejected([Problem(Code.ARCHIVED, ("input", "planId"), "This plan is archived")])
        subscription = Subscription(
            tenant_id=ctx.principal.tenant_id,
            customer_id=customer.id,
            plan_id=plan.id,
            status=status,
            started_at=started_at,
            ends_at=ends_at,
            created_at=now,
            updated_at=now,
        )
        session.add(subscription)
        return subscription

    return await run_mutation(ctx, work)


async def cancel_subscription(ctx: Context, global_id: str, at: datetime | None) -> Result:
    ctx.principal.require("write:customers")

    async def work(session: AsyncSession) -> Subscription:
        subscription: Subscription = await locked(
            session, Subscription, global_id, "Subscription", ("input", "id")
        )
        if subscription.status == "CANCELED":
            return subscription
        moment = at or utcnow()
        if moment < subscription.started_at:
            raise Rejected([Problem(Code.INVALID, ("input", "at"), "Must not be before startedAt")])
        subscription.status = "CANCELED"
        subscription.canceled_at = moment
        if subscription.ends_at is None or subscription.ends_at > moment:
            subscription.ends_at = moment
        subscription.updated_at = utcnow()
        return subscription

    return await run_mutation(ctx, work)
