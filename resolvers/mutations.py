"""The mutation boundary: one transaction per mutation, problems turned into user errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.ids import decode_int_id
from domain.problems import Code, Problem, Rejected
from models.db import unique_violation_field
from resolvers.context import Context


@dataclass(slots=True)
class Result:
    """What a mutation answers: the changed row, or the problems (and nothing written)."""

    row: Any = None
    problems: list[Problem] = field(default_factory=list)


# PostgreSQL aborts one transaction of a deadlock (e.g. two writers taking the same ingest
# aliases in opposite orders) or of a serialization failure: it is run again from the start.
RETRIED_STATES = frozenset({"40P01", "40001"})
ATTEMPTS = 3


async def run_mutation(ctx: Context, work: Callable[[AsyncSession], Awaitable[Any]]) -> Result:
    """Run `work` in its own transaction; Rejected and unique violations roll it back."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with ctx.uow.write() as session:
                row = await work(session)
                await session.flush()
        except Rejected as rejected:
            return Result(None, rejected.problems)
        except IntegrityError as error:
            name = unique_violation_field(error)
            if name is None:
                raise
            return Result(None, [Problem(Code.TAKEN, ("input", name), f"This {name} is taken")])
        except DBAPIError as error:
            if attempt < ATTEMPTS and _retried(error):
                continue
            raise
        return Result(row)
    raise AssertionError("unreachable: the last attempt returns or raises")


def _retried(error: DBAPIError) -> bool:
    state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return state in RETRIED_STATES


async def locked(
    session: AsyncSession, model: Any, global_id: str, type_name: str, field: tuple[str, ...]
) -> Any:
    """The tenant's row of `model` with this global ID, locked for the transaction."""
    pk = decode_int_id(global_id, type_name)
    row = None
    if pk is not None:
        statement = select(model).where(model.id == pk).with_for_update()
        row = (await session.execute(statement)).scalar_one_or_none()
    if row is None:
        raise Rejected([Problem(Code.NOT_FOUND, field, f"No {type_name} has this ID")])
    return row
