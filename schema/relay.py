"""Relay Object Identification and Cursor Connections: Node, PageInfo, page → connection."""

from __future__ import annotations

import strawberry

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
        cursors = page.cursors
        return cls(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        )


PAGE_ARGUMENT_HELP = {
    "first": "At most 100; 20 when neither first nor last is given.",
    "last": "At most 100; pages backward from `before` (or the end).",
    "after": "A cursor from this connection with the same order.",
    "before": "A cursor from this connection with the same order.",
}
