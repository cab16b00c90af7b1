"""API keys → Principal, and scope checks (API.md, Identity, tenancy, scopes)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, TypeGuard

from sqlalchemy import BigInteger, String, Uuid, bindparam, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.errors import Forbidden
from models import ApiKey, Tenant

ALL_SCOPES = ("read:customers", "write:customers", "read:billing", "write:billing", "write:usage")
KEY_PREFIX = "cg_"
MAX_KEY_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: uuid.UUID
    tenant_name: str
    scopes: frozenset[str]
    api_key_id: int

    def require(self, *scopes: str) -> None:
        missing = [scope for scope in scopes if scope not in self.scopes]
        if missing:
            raise Forbidden(missing)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh API key and the short prefix kept in clear to recognise it."""
    visible = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{visible}_{secrets.token_urlsafe(32)}"
    return key, f"{KEY_PREFIX}{visible}"


def key_from_headers(authorization: str | None, x_api_key: str | None) -> str | None:
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


# PostgreSQL: row-level security hides api_keys before a tenant is known, so one SECURITY
# DEFINER function (migration 0006) answers exactly this lookup. Inside a request's
# transaction the same statement also sets the transaction's tenant for row-level security.
_PRINCIPAL = "SELECT p.id, p.scopes, p.tenant_id, p.name FROM customergraph_principal(:h) AS p"
_PRINCIPAL_AND_TENANT = (
    "SELECT p.id, p.scopes, p.tenant_id, p.name,"
    " set_config('app.tenant_id', p.tenant_id::text, true) AS tenant"
    " FROM customergraph_principal(:h) AS p"
)
_COLUMNS: dict[str, Any] = {
    "id": BigInteger(),
    "scopes": JSONB(),
    "tenant_id": Uuid(),
    "name": String(),
}


_STATEMENTS: tuple[Any, ...] = (
    text(_PRINCIPAL).columns(**_COLUMNS),
    text(_PRINCIPAL_AND_TENANT).columns(**_COLUMNS),
    select(ApiKey.id, ApiKey.scopes, Tenant.id.label("tenant_id"), Tenant.name)
    .join(Tenant, Tenant.id == ApiKey.tenant_id)
    .where(ApiKey.key_hash == bindparam("h"), ApiKey.revoked_at.is_(None)),
)


def usable_key(key: str | None) -> TypeGuard[str]:
    return bool(key) and len(key or "") <= MAX_KEY_LENGTH and (key or "").isascii()


async def principal_on(
    connection: AsyncConnection, key: str | None, set_tenant: bool = False
) -> Principal | None:
    """The principal of a live API key, or None for a missing, unknown or revoked one, read
    with one statement on `connection` (Core, outside the ORM tenancy guard). With
    `set_tenant`, PostgreSQL's transaction takes the key's tenant in the same statement."""
    if not usable_key(key):
        return None
    if connection.dialect.name == "postgresql":
        statement = _STATEMENTS[1] if set_tenant else _STATEMENTS[0]
    else:
        statement = _STATEMENTS[2]
    row = (await connection.execute(statement, {"h": hash_key(key)})).first()
    if row is None:
        return None
    return Principal(row.tenant_id, row.name, frozenset(row.scopes), row.id)


async def find_principal(engine: AsyncEngine, key: str | None) -> Principal | None:
    """`principal_on` a connection of its own, in autocommit: one round trip, no BEGIN."""
    if not usable_key(key):
        return None
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        return await principal_on(autocommit, key)


def organization_matches(principal: Principal, organization_id: str | None) -> bool:
    """`X-Organization-Id`, when sent, must name the key's tenant (raw UUID or global ID)."""
    if organization_id is None:
        return True
    from domain.ids import encode_global_id

    candidate = organization_id.strip()
    tenant_id = str(principal.tenant_id)  # canonical: lower case, hyphenated
    # UUIDs compare case-insensitively (RFC 9562); global IDs are case-sensitive.
    return candidate.lower() == tenant_id or candidate == encode_global_id("Tenant", tenant_id)
