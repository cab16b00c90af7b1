"""`node` and `nodes`: any object by its global ID, batched through the by-id loaders.

`resolve_node` is also what every entity's `resolve_reference` calls, so `_entities`,
`node` and `nodes` share one path: the scope check, then the per-request by-id loader
(whose statements the tenancy guard scopes). Another tenant's ID is null, like a missing one.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry

from domain.errors import BadUserInput
from domain.ids import decode_global_id
from resolvers.context import Info
from resolvers.loaders import Loaders, RowByIdLoader
from schema.billing import BillableMetric
from schema.customers import Customer
from schema.instances import Instance
from schema.plans import Plan, Subscription
from schema.relay import Node
from schema.tenants import Tenant

MAX_NODES = 100
# ASCII digits only: str.isdigit() also accepts "²" (int() then raises) and "١٢" (an alias).
INT_KEY = re.compile(r"[0-9]{1,18}")

Resolver = Callable[[Info, str], Awaitable[Node | None]]


def _rows(
    scope: str, loader: Callable[[Loaders], RowByIdLoader], build: Callable[[Any], Node]
) -> Resolver:
    """A resolver for a type stored as rows with an integer key, read through its loader."""

    async def resolve(info: Info, key: str) -> Node | None:
        info.context.principal.require(scope)
        if not INT_KEY.fullmatch(key):
            return None
        row = await loader(info.context.loaders).load(int(key))
        return None if row is None else build(row)

    return resolve


async def _tenant(info: Info, key: str) -> Node | None:
    principal = info.context.principal
    return Tenant.of(principal) if key == str(principal.tenant_id) else None


RESOLVERS: dict[str, Resolver] = {
    "Customer": _rows("read:customers", lambda ls: ls.customer_by_id, Customer.from_row),
    "Subscription": _rows(
        "read:customers", lambda ls: ls.subscription_by_id, Subscription.from_row
    ),
    "Instance": _rows("read:customers", lambda ls: ls.instance_by_id, Instance.from_row),
    "Plan": _rows("read:billing", lambda ls: ls.plan_by_id, Plan.from_row),
    "BillableMetric": _rows(
        "read:billing", lambda ls: ls.billable_metric_by_id, BillableMetric.from_row
    ),
    "Tenant": _tenant,
}


async def resolve_node(info: Info, global_id: str) -> Node | None:
    """The object a global ID names, or None (unknown type, missing, another tenant's)."""
    type_name, key = decode_global_id(global_id)
    resolver = RESOLVERS.get(type_name)
    return None if resolver is None else await resolver(info, key)


async def node(info: Info, id: strawberry.ID) -> Node | None:
    """Any object by its global ID; null when it does not exist (or is another tenant's)."""
    return await resolve_node(info, str(id))


async def nodes(
    info: Info,
    ids: list[strawberry.ID],
) -> list[Node | None]:
    """Objects by global ID, in order, null where not found. At most 100 IDs."""
    if len(ids) > MAX_NODES:
        raise BadUserInput(f"nodes takes at most {MAX_NODES} IDs", argument="ids")
    for global_id in ids:
        decode_global_id(str(global_id))
    return list(await asyncio.gather(*(resolve_node(info, str(g)) for g in ids)))
