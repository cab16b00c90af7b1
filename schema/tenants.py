"""Tenant and Viewer: who the API key acts for."""

from __future__ import annotations

import strawberry

from domain.ids import encode_global_id
from resolvers.auth import Principal
from resolvers.context import Info
from schema.relay import Node


@strawberry.type(description="The organisation an API key belongs to.")
class Tenant(Node):
    id: strawberry.ID
    name: str

    @classmethod
    def of(cls, principal: Principal) -> Tenant:
        global_id = encode_global_id("Tenant", str(principal.tenant_id))
        return cls(id=strawberry.ID(global_id), name=principal.tenant_name)


@strawberry.type(description="The caller: its tenant and the scopes of its API key.")
class Viewer:
    tenant: Tenant
    scopes: list[str]


def viewer(info: Info) -> Viewer:
    """Needs no scope."""
    principal = info.context.principal
    return Viewer(tenant=Tenant.of(principal), scopes=sorted(principal.scopes))
