"""Root lists (plans, billable metrics): one bounded keyset query per page, COUNT on demand."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select

from resolvers.context import Context
from resolvers.pagination import Page, PageArgs, SortKey, build_page, page_statement


async def resolve_page(
    ctx: Context,
    columns: tuple[Any, ...],
    key: SortKey,
    page: PageArgs,
    conditions: list[ColumnElement[bool]],
) -> Page:
    statement, size, backward = page_statement(
        select(*columns).where(*conditions), key, page, ctx.secret
    )
    identity = columns[0]

    async def count() -> int:
        total = await ctx.uow.execute(select(func.count(identity)).where(*conditions))
        return int(total.scalar_one())

    rows = await ctx.uow.rows(statement)
    return build_page(rows, size, backward, key, page, ctx.secret, count)
