"""Relay Object Identification and Cursor Connections: Node, PageInfo, page → connection."""

from __future__ import annotations

from typing import TypeVar

import strawberry

from resolvers.context import Info
from resolvers.pagination import Page


@strawberry.interface(description="An object with an opaque global ID, fetchable by `node`.")
class Node:
    id: strawberry.ID


@strawberry.federation.type(shareable=True, description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def from_page(cls, page: Page) -> PageInfo:
        return cls(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=page.start_cursor,
            end_cursor=page.end_cursor,
        )


T = TypeVar("T")


async def entity(cls: type[T], info: Info, id: strawberry.ID) -> T | None:
    """`_entities`: an entity by its key, through the same path as `node` (scope check,
    per-request loader, tenancy guard); another tenant's or type's ID is null."""
    from schema.nodes import resolve_node

    node = await resolve_node(info, str(id))
    return node if isinstance(node, cls) else None
