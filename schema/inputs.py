"""Strawberry input objects → plain dicts keyed by GraphQL names (omitted fields absent)."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any

from strawberry import UNSET
from strawberry.utils.str_converters import to_camel_case


def input_dict(value: Any) -> dict[str, Any]:
    """A dict of the fields the client sent; an explicit null stays as None."""
    result: dict[str, Any] = {}
    for field in dataclasses.fields(value):
        item = getattr(value, field.name)
        if item is UNSET:
            continue
        result[to_camel_case(field.name)] = plain(item)
    return result


def plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [plain(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return input_dict(value)
    return value
