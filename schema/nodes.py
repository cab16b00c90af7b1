"""`node` and `nodes`: any object by its global ID, batched through the by-id loaders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import strawberry

from domain.errors import BadUserInput
from domain.ids import decode_global_id
from resolvers.context import Info
from schema.customers import Customer
from schema.relay import Node
from schema.tenants import Tenant

MAX_NODES = 100


async def _customer(info: Info, key: str) -> Node | None:
    info.context.principal.require("read:customers")
    if not key.isdigit() or len(key) > 18:
        return None
    row = await info.context.loaders.customer_by_id.load(int(key))
    return None if row is None else Customer.from_row(row)


async def _tenant(info: Info, key: str) -> Node | None:
    principal = info.context.principal
    return Tenant.of(principal) if key == str(principal.tenant_id) else None


RESOLVERS: dict[str, Callable[[Info, str], Awaitable[Node | None]]] = {
    "Customer": _customer,
    "Tenant": _tenant,
}


async def _resolve(info: Info, global_id: str) -> Node | None:
    type_name, key = decode_global_id(global_id)
    resolver = RESOLVERS.get(type_name)
    return None if resolver is None else await resolver(info, key)


async def node(info: Info, id: strawberry.ID) -> Node | None:
    """Any object by its global ID; null when it does not exist (or is another tenant's)."""
    return await _resolve(info, str(id))


async def nodes(
    info: Info,
    ids: list[strawberry.ID],
) -> list[Node | None]:
    """Objects by global ID, in order, null where not found. At most 100 IDs."""
    if len(ids) > MAX_NODES:
        raise BadUserInput(f"nodes takes at most {MAX_NODES} IDs", argument="ids")
    for global_id in ids:
        decode_global_id(str(global_id))
    return list(await asyncio.gather(*(_resolve(info, str(g)) for g in ids)))
