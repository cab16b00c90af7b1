"""Operator commands behind the CLI: tenants, API keys and the demo tenant."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from domain.customers import clean_fields, derive_display_name
from domain.demo import DEMO_METRICS, DEMO_PLANS, demo_customers, demo_events, demo_holdings
from domain.metrics import validate_metric
from models import (
    ApiKey,
    BillableMetric,
    Customer,
    CustomerIngestAlias,
    Instance,
    Plan,
    PlanCharge,
    Subscription,
    Tenant,
    UsageEvent,
)
from models.base import utcnow
from models.db import make_engine, make_sessionmaker
from resolvers.auth import ALL_SCOPES, hash_key, new_key
from settings import Settings

DEMO_TENANT = "Demo"


class AdminError(ValueError):
    """An operator mistake, printed without a trace."""


async def _tenant_by_name_or_id(session: AsyncSession, name: str) -> Tenant | None:
    tenant = await session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        try:
            tenant = await session.get(Tenant, uuid.UUID(name))
        except ValueError:
            return None
    return tenant


async def create_tenant(settings: Settings, name: str) -> uuid.UUID:
    if not name.strip() or len(name) > 200:
        raise AdminError("a tenant name is 1 to 200 characters")
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)(info={"system": True}) as session:
            if await _tenant_by_name_or_id(session, name):
                raise AdminError(f"a tenant named {name!r} exists")
            tenant = Tenant(id=uuid.uuid4(), name=name, created_at=utcnow())
            session.add(tenant)
            await session.commit()
            return tenant.id
    finally:
        await engine.dispose()


async def create_api_key(settings: Settings, tenant_name: str, scopes: list[str] | None) -> str:
    unknown = sorted(set(scopes or ()) - set(ALL_SCOPES))
    if unknown:
        raise AdminError(f"unknown scopes {unknown}; known: {', '.join(ALL_SCOPES)}")
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)(info={"system": True}) as session:
            tenant = await _tenant_by_name_or_id(session, tenant_name)
            if tenant is None:
                raise AdminError(f"no tenant named {tenant_name!r}")
            key, prefix = new_key()
            session.add(
                ApiKey(
                    tenant_id=tenant.id,
                    prefix=prefix,
                    key_hash=hash_key(key),
                    scopes=sorted(scopes or ALL_SCOPES),
                    created_at=utcnow(),
                )
            )
            await session.commit()
            return key
    finally:
        await engine.dispose()


async def seed_demo(settings: Settings, count: int = 50) -> str:
    """Create the demo tenant and its customers where missing; return a fresh API key."""
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)(info={"system": True}) as session:
            tenant = await _tenant_by_name_or_id(session, DEMO_TENANT)
            if tenant is None:
                tenant = Tenant(id=uuid.uuid4(), name=DEMO_TENANT, created_at=utcnow())
                session.add(tenant)
                await session.flush()
            plans = await _demo_catalogue(session, tenant.id)
            existing = set(
                await session.scalars(
                    select(Customer.external_id).where(Customer.tenant_id == tenant.id)
                )
            )
            for index, values in enumerate(demo_customers(count)):
                if values["externalId"] in existing:
                    continue
                columns, problems = clean_fields(values)
                assert not problems, problems
                aliases = columns.pop("ingest_aliases")
                now = utcnow()
                customer = Customer(
                    **columns,
                    tenant_id=tenant.id,
                    display_name=derive_display_name(values),
                    created_at=now,
                    updated_at=now,
                    billable_status_effective_at=now,
                    version=1,
                )
                session.add(customer)
                await session.flush()
                session.add_all(
                    CustomerIngestAlias(tenant_id=tenant.id, customer_id=customer.id, alias=a)
                    for a in aliases
                )
                _add_holdings(session, tenant.id, customer.id, index, plans, now)
            await _add_usage(session, tenant.id)
            await session.commit()
    finally:
        await engine.dispose()
    return await create_api_key(settings, DEMO_TENANT, None)


async def _demo_catalogue(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, int]:
    """The demo metrics and plans, created where missing; plan ids by name."""
    metrics = {
        row.name: row.id
        for row in await session.execute(
            select(BillableMetric.name, BillableMetric.id).where(
                BillableMetric.tenant_id == tenant_id
            )
        )
    }
    for values in DEMO_METRICS:
        if values["name"] in metrics:
            continue
        columns, problems = validate_metric(values)
        assert not problems, problems
        metric = BillableMetric(tenant_id=tenant_id, created_at=utcnow(), **columns)
        session.add(metric)
        await session.flush()
        metrics[metric.name] = metric.id
    plans = {
        row.name: row.id
        for row in await session.execute(
            select(Plan.name, Plan.id).where(Plan.tenant_id == tenant_id)
        )
    }
    for name, (description, charges) in DEMO_PLANS.items():
        if name in plans:
            continue
        plan = Plan(tenant_id=tenant_id, name=name, description=description, created_at=utcnow())
        session.add(plan)
        await session.flush()
        session.add_all(
            PlanCharge(
                tenant_id=tenant_id,
                plan_id=plan.id,
                billable_metric_id=metrics[metric],
                unit_price=Decimal(price),
                credit_type=credit_type,
                position=position,
            )
            for position, (metric, price, credit_type) in enumerate(charges)
        )
        plans[name] = plan.id
    return plans


def _add_holdings(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    customer_id: int,
    index: int,
    plans: dict[str, int],
    now: datetime,
) -> None:
    subscriptions, instances = demo_holdings(index)
    for plan, status, days_ago in subscriptions:
        started = now - timedelta(days=days_ago)
        session.add(
            Subscription(
                tenant_id=tenant_id,
                customer_id=customer_id,
                plan_id=plans[plan],
                status=status,
                started_at=started,
                canceled_at=now if status == "CANCELED" else None,
                ends_at=now if status == "CANCELED" else None,
                created_at=started,
                updated_at=now,
            )
        )
    for name, status, region in instances:
        session.add(
            Instance(
                tenant_id=tenant_id,
                customer_id=customer_id,
                name=name,
                status=status,
                region=region,
                created_at=now,
                updated_at=now,
            )
        )


async def _add_usage(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Each demo customer's last 30 days of usage; stable transaction ids make it idempotent."""
    rows = await session.execute(
        select(Customer.id, Customer.external_id).where(
            Customer.tenant_id == tenant_id, Customer.external_id.like("demo-%")
        )
    )
    today, now = utcnow().date(), utcnow()
    events = [
        {**event, "tenant_id": tenant_id, "customer_id": row.id, "created_at": now}
        for row in rows
        for event in demo_events(int(row.external_id.rsplit("-", 1)[1]) - 1, today)
    ]
    if not events:
        return
    connection = await session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(UsageEvent.__table__).on_conflict_do_nothing(
        index_elements=["tenant_id", "transaction_id"]
    )
    await session.execute(statement, events)
