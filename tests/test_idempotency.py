"""Idempotency-Key: one execution per key and body for 24 hours, replayed after."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from conftest import LiveServer, TenantHandle, make_tenant
from sqlalchemy import update
from starlette.applications import Starlette

from models import IdempotencyRecord
from models.base import utcnow

CREATE = {
    "query": "mutation($name: String!) { createCustomer(input: {displayName: $name}) { "
    "customer { id displayName } userErrors { code } } }",
    "variables": {"name": "Once"},
}
COUNT = "{ customers(archived: ALL) { totalCount } }"


async def total(tenant: TenantHandle) -> int:
    return int((await tenant.api.data(COUNT))["customers"]["totalCount"])


async def test_same_key_and_body_replays_without_running_again(tenant: TenantHandle) -> None:
    http = tenant.api.http
    headers = {"Authorization": f"Bearer {tenant.key}", "Idempotency-Key": "order-1"}
    first = await http.post("/graphql", json=CREATE, headers=headers)
    second = await http.post("/graphql", json=CREATE, headers=headers)
    assert first.status_code == second.status_code == 200
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content
    assert await total(tenant) == 1


async def test_same_key_with_another_body_is_409_and_changes_nothing(tenant: TenantHandle) -> None:
    http = tenant.api.http
    headers = {"Authorization": f"Bearer {tenant.key}", "Idempotency-Key": "order-2"}
    await http.post("/graphql", json=CREATE, headers=headers)
    other = {**CREATE, "variables": {"name": "Twice"}}
    refused = await http.post("/graphql", json=other, headers=headers)
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await total(tenant) == 1


async def test_keys_belong_to_a_tenant_and_expire_after_a_day(
    tenant: TenantHandle, other_tenant: TenantHandle, app: Starlette
) -> None:
    for owner in (tenant, other_tenant):
        headers = {"Authorization": f"Bearer {owner.key}", "Idempotency-Key": "shared-key"}
        response = await owner.api.http.post("/graphql", json=CREATE, headers=headers)
        assert "idempotent-replayed" not in response.headers
        assert await total(owner) == 1
    async with app.state.session_factory(info={"tenant_id": tenant.id}) as session:
        await session.execute(
            update(IdempotencyRecord).values(created_at=utcnow() - timedelta(hours=25))
        )
        await session.commit()
    headers = {"Authorization": f"Bearer {tenant.key}", "Idempotency-Key": "shared-key"}
    again = await tenant.api.http.post("/graphql", json=CREATE, headers=headers)
    assert "idempotent-replayed" not in again.headers
    assert await total(tenant) == 2


async def test_bad_key_is_400(tenant: TenantHandle) -> None:
    headers = {"Authorization": f"Bearer {tenant.key}", "Idempotency-Key": "x" * 256}
    response = await tenant.api.http.post("/graphql", json=CREATE, headers=headers)
    assert response.status_code == 400
    assert await total(tenant) == 0


async def test_concurrent_requests_with_one_key_execute_once(
    live_server: LiveServer, app: Starlette, client: httpx.AsyncClient
) -> None:
    tenant = await make_tenant(app, client)
    headers = {"Authorization": f"Bearer {tenant.key}", "Idempotency-Key": "burst"}
    async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as http:
        answers = await asyncio.gather(
            *(http.post("/graphql", json=CREATE, headers=headers) for _ in range(10))
        )
    assert [a.status_code for a in answers] == [200] * 10
    assert len({a.content for a in answers}) == 1, "every caller sees the one execution"
    assert sum("idempotent-replayed" not in a.headers for a in answers) == 1
    assert await total(tenant) == 1
