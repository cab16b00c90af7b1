"""Operator commands behind the CLI: tenants, API keys and the demo tenant."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from domain.customers import clean_fields, derive_display_name
from domain.demo import demo_customers
from models import ApiKey, Customer, CustomerIngestAlias, Tenant
from models.base import utcnow
from models.db import make_engine, make_sessionmaker
from resolvers.auth import ALL_SCOPES, hash_key, new_key
from settings import Settings

DEMO_TENANT = "Demo"


class AdminError(ValueError):
    """An operator mistake, printed without a trace."""


async def _tenant_by_name_or_id(session: object, name: str) -> Tenant | None:
    from sqlalchemy.ext.asyncio import AsyncSession

    assert isinstance(session, AsyncSession)
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
            existing = set(
                await session.scalars(
                    select(Customer.external_id).where(Customer.tenant_id == tenant.id)
                )
            )
            for values in demo_customers(count):
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
            await session.commit()
    finally:
        await engine.dispose()
    return await create_api_key(settings, DEMO_TENANT, None)
