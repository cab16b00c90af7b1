"""Column lists of the read paths and the per-customer child connections' specifications."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from models import BillableMetric, Customer, Instance, Plan, PlanCharge, Subscription
from resolvers.children import ChildSpec
from resolvers.pagination import SortKey

ACTIVE_STATUSES = ("ACTIVE", "TRIALING")


def columns_of(model: Any) -> tuple[Any, ...]:
    return tuple(getattr(model, column.key) for column in model.__table__.columns)


CUSTOMER_COLUMNS = columns_of(Customer)
PLAN_COLUMNS = columns_of(Plan)
CHARGE_COLUMNS = columns_of(PlanCharge)
SUBSCRIPTION_COLUMNS = columns_of(Subscription)
INSTANCE_COLUMNS = columns_of(Instance)
METRIC_COLUMNS = columns_of(BillableMetric)


def newest_first(tag: str, column: Any) -> SortKey:
    """Children and root lists (plans, metrics) are answered newest first, ties by id."""
    name = column.key
    return SortKey(
        tag=tag,
        columns=(column, column.class_.id),
        row_values=lambda row: (getattr(row, name), row.id),
        descending=True,
        datetimes=frozenset({0}),
        fields=(name, "id"),
    )


def _subscriptions(filters: tuple[Any, ...]) -> tuple[Select[Any], Any]:
    (statuses,) = filters
    statement = select(*SUBSCRIPTION_COLUMNS)
    if statuses is not None:
        statement = statement.where(Subscription.status.in_(statuses))
    return statement, Subscription.customer_id


def _instances(filters: tuple[Any, ...]) -> tuple[Select[Any], Any]:
    (statuses,) = filters
    statement = select(*INSTANCE_COLUMNS)
    if statuses is not None:
        statement = statement.where(Instance.status.in_(statuses))
    return statement, Instance.customer_id


def _metrics(filters: tuple[Any, ...]) -> tuple[Select[Any], Any]:
    """Metrics charged by the plans of a customer's subscriptions (current ones only, if asked)."""
    include_archived, on_current_plan = filters
    pairs = select(
        Subscription.customer_id.label("customer_id"),
        PlanCharge.billable_metric_id.label("metric_id"),
    ).join(PlanCharge, PlanCharge.plan_id == Subscription.plan_id)
    if on_current_plan:
        pairs = pairs.where(Subscription.status.in_(ACTIVE_STATUSES))
    charged = pairs.distinct().subquery()
    statement = select(*METRIC_COLUMNS, charged.c.customer_id).join(
        charged, charged.c.metric_id == BillableMetric.id
    )
    if not include_archived:
        statement = statement.where(BillableMetric.archived_at.is_(None))
    return statement, charged.c.customer_id


CUSTOMER_SUBSCRIPTIONS = ChildSpec(
    newest_first("customer.subscriptions", Subscription.started_at), _subscriptions
)
CUSTOMER_INSTANCES = ChildSpec(newest_first("customer.instances", Instance.created_at), _instances)
CUSTOMER_METRICS = ChildSpec(
    newest_first("customer.billableMetrics", BillableMetric.created_at), _metrics
)
