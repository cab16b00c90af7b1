"""The tenancy guard: every ORM SELECT, UPDATE and DELETE of a tenant-owned row is filtered.

A session carries its tenant in `session.info["tenant_id"]`; the `do_orm_execute` hook adds
`tenant_id = :tenant` to every tenant-owned entity in the statement, aliases included
(SQLAlchemy's `filter_public` recipe). A session with neither a tenant nor
`info["system"] = True` may not read tenant-owned rows at all.

Reads of rows skip the ORM session (`UnitOfWork.rows`, a third of its cost per statement):
`scoped` adds the same criterion once, when the read is first run, with the tenant as a
bound parameter, `GUARD_TENANT`, that the unit of work fills at every execution.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Connection, Executable, Uuid, bindparam, event, text
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from models.base import TenantOwned


class TenancyError(RuntimeError):
    """A statement touched tenant-owned rows from a session with no tenant."""


class TenantSession(Session):
    """The session class every request uses; the guard listens on it alone."""


TENANT_SETTING = "SELECT set_config('app.tenant_id', :tenant, true)"


@event.listens_for(TenantSession, "after_begin")
def _set_tenant(session: Session, _transaction: Any, connection: Connection) -> None:
    """PostgreSQL's row-level security reads the tenant of the transaction from here."""
    tenant_id = session.info.get("tenant_id")
    if tenant_id is not None and connection.dialect.name == "postgresql":
        connection.execute(text(TENANT_SETTING), {"tenant": str(tenant_id)})


@event.listens_for(TenantSession, "do_orm_execute")
def _add_tenant_criteria(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return
    info: dict[str, Any] = state.session.info
    tenant_id = info.get("tenant_id")
    if tenant_id is None:
        if info.get("system"):
            return
        raise TenancyError("a tenant-owned statement ran without a tenant")
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantOwned,
            lambda cls: cls.tenant_id == tenant_id,
            include_aliases=True,
        )
    )


GUARD_TENANT = "guard_tenant_id"
_TENANT = bindparam(GUARD_TENANT, type_=Uuid())
_scoped: dict[int, tuple[Any, Any]] = {}
S = TypeVar("S", bound=Executable)
SCOPED_CACHE_SIZE = 1024


def scoped(statement: S) -> S:
    """The statement with the guard's criterion on every tenant-owned entity it reads,
    aliases and subqueries included, the tenant bound as `GUARD_TENANT`; kept per statement
    object, so a statement built once is scoped once."""
    known = _scoped.get(id(statement))
    if known is not None and known[0] is statement:
        found: S = known[1]
        return found
    guarded = statement.options(
        with_loader_criteria(
            TenantOwned, lambda cls: cls.tenant_id == _TENANT, include_aliases=True
        )
    )
    if len(_scoped) >= SCOPED_CACHE_SIZE:
        _scoped.clear()
    _scoped[id(statement)] = (statement, guarded)
    return guarded
