"""Generic Relay connections: `Connection[Plan]` is named PlanConnection, `Edge[Plan]` PlanEdge."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry

from resolvers.pagination import Page
from schema.relay import PageInfo

T = TypeVar("T")


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    @strawberry.field
    def edges(self) -> list[Edge[T]]:
        """Built when asked for: each edge's cursor is signed then."""
        return [Edge(cursor=self.page.cursor(i), node=n) for i, n in enumerate(self.nodes)]

    nodes: list[T]

    @strawberry.field
    def page_info(self) -> PageInfo:
        return PageInfo.from_page(self.page)

    page: strawberry.Private[Page]

    @strawberry.field(description="How many items match, over all pages (counted on demand).")
    async def total_count(self) -> int:
        return await self.page.count()


def connection(page: Page, node: Callable[[Any], T]) -> Connection[T]:
    return Connection(nodes=[node(row) for row in page.rows], page=page)
