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
    edges: list[Edge[T]]
    nodes: list[T]
    page_info: PageInfo
    page: strawberry.Private[Page]

    @strawberry.field(description="How many items match, over all pages (counted on demand).")
    async def total_count(self) -> int:
        return await self.page.count()


def connection(page: Page, node: Callable[[Any], T]) -> Connection[T]:
    nodes = [node(row) for row in page.rows]
    edges = [Edge(cursor=c, node=n) for c, n in zip(page.cursors, nodes, strict=True)]
    return Connection(edges=edges, nodes=nodes, page_info=PageInfo.from_page(page), page=page)
