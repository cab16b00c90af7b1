"""Small objects shared by several domains."""

from __future__ import annotations

import strawberry


@strawberry.type
class CustomField:
    key: str
    value: str


@strawberry.input
class CustomFieldInput:
    key: str = strawberry.field(description="[A-Za-z0-9_-]{1,64}, unique per object.")
    value: str = strawberry.field(description="At most 1,000 characters.")
