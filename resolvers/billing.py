"""Billable metrics: the root list, create and archive (API.md, Billing)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from domain.metrics import validate_metric
from models import BillableMetric
from models.base import utcnow
from resolvers.context import Context
from resolvers.lists import resolve_page
from resolvers.mutations import Result, locked, run_mutation
from resolvers.pagination import Page, PageArgs
from resolvers.specs import METRIC_COLUMNS, newest_first

METRIC_ORDER = newest_first("billableMetrics", BillableMetric.created_at)


async def resolve_billable_metrics(ctx: Context, page: PageArgs, include_archived: bool) -> Page:
    ctx.principal.require("read:billing")
    conditions: list[ColumnElement[bool]] = (
        [] if include_archived else [BillableMetric.archived_at.is_(None)]
    )
    return await resolve_page(ctx, METRIC_COLUMNS, METRIC_ORDER, page, conditions)


async def create_billable_metric(ctx: Context, values: dict[str, Any]) -> Result:
    ctx.principal.require("write:billing")
    columns, problems = validate_metric(values)
    if problems:
        return Result(None, problems)

    async def work(session: AsyncSession) -> BillableMetric:
        metric = BillableMetric(tenant_id=ctx.principal.tenant_id, created_at=utcnow(), **columns)
        session.add(metric)
        return metric

    return await run_mutation(ctx, work)


async def archive_billable_metric(ctx: Context, global_id: str) -> Result:
    """Archiving twice is a no-op; plans that charge it keep charging it."""
    ctx.principal.require("write:billing")

    async def work(session: AsyncSession) -> BillableMetric:
        field = ("input", "id")
        metric: BillableMetric = await locked(
            session, BillableMetric, global_id, "BillableMetric", field
        )
        if metric.archived_at is None:
            metric.archived_at = utcnow()
        return metric

    return await run_mutation(ctx, work)
