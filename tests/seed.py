"""Fast, direct inserts of a tenant's plans, metrics, subscriptions and instances for tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from starlette.applications import Starlette

from domain.ids import encode_global_id
from models import BillableMetric, Customer, Instance, Plan, PlanCharge, Subscription

BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
SUBSCRIPTION_STATUSES = ["ACTIVE", "CANCELED", "TRIALING", "PAST_DUE", "ACTIVE", "EXPIRED"]
INSTANCE_STATUSES = ["RUNNING", "STOPPED", "TERMINATED", "RUNNING", "PROVISIONING", "FAILED"]


@dataclass
class Seeded:
    customers: list[int] = field(default_factory=list)
    plans: list[int] = field(default_factory=list)
    metrics: list[int] = field(default_factory=list)
    subscriptions: list[int] = field(default_factory=list)
    instances: list[int] = field(default_factory=list)

    def ids(self, type_name: str, keys: list[int]) -> list[str]:
        return [encode_global_id(type_name, key) for key in keys]


async def seed_graph(
    app: Starlette, tenant_id: uuid.UUID, customers: int, per_customer: int = 6
) -> Seeded:
    """`customers` customers with `per_customer` subscriptions and instances each, 3 plans
    charging 4 metrics (one archived). Subscription i of a customer starts i days after
    BASE_TIME, so the newest is the last; statuses cycle through SUBSCRIPTION_STATUSES."""
    seeded = Seeded()
    async with app.state.owner_factory(info={"system": True}) as session:
        metrics = [
            BillableMetric(
                tenant_id=tenant_id,
                name=f"metric-{i}",
                aggregation_type="COUNT",
                created_at=BASE_TIME + timedelta(minutes=i),
                archived_at=BASE_TIME if i == 3 else None,
            )
            for i in range(4)
        ]
        plans = [
            Plan(tenant_id=tenant_id, name=f"plan-{i}", created_at=BASE_TIME + timedelta(minutes=i))
            for i in range(3)
        ]
        session.add_all([*metrics, *plans])
        await session.flush()
        for i, plan in enumerate(plans):
            for position, metric in enumerate(metrics[i : i + 2]):
                session.add(
                    PlanCharge(
                        tenant_id=tenant_id,
                        plan_id=plan.id,
                        billable_metric_id=metric.id,
                        unit_price=Decimal("0.25") * (position + 1),
                        credit_type="USD",
                        position=position,
                    )
                )
        rows = [
            Customer(
                tenant_id=tenant_id,
                display_name=f"customer-{n:04d}",
                email=f"c{n}-{tenant_id.hex[:6]}@example.com",
                created_at=BASE_TIME + timedelta(seconds=n),
                updated_at=BASE_TIME + timedelta(seconds=n),
            )
            for n in range(customers)
        ]
        session.add_all(rows)
        await session.flush()
        subscriptions, instances = [], []
        for customer in rows:
            for i in range(per_customer):
                subscriptions.append(
                    Subscription(
                        tenant_id=tenant_id,
                        customer_id=customer.id,
                        plan_id=plans[i % len(plans)].id,
                        status=SUBSCRIPTION_STATUSES[i % len(SUBSCRIPTION_STATUSES)],
                        started_at=BASE_TIME + timedelta(days=i),
                    )
                )
                instances.append(
                    Instance(
                        tenant_id=tenant_id,
                        customer_id=customer.id,
                        name=f"instance-{i}",
                        status=INSTANCE_STATUSES[i % len(INSTANCE_STATUSES)],
                        region="eu-west-1",
                        created_at=BASE_TIME + timedelta(hours=i),
                    )
                )
        session.add_all([*subscriptions, *instances])
        await session.flush()
        seeded.customers = [c.id for c in rows]
        seeded.plans = [p.id for p in plans]
        seeded.metrics = [m.id for m in metrics]
        seeded.subscriptions = [s.id for s in subscriptions]
        seeded.instances = [i.id for i in instances]
        await session.commit()
    return seeded
