"""Objects answered straight from their database row.

A `RowBacked` Strawberry type keeps its row and answers a plain field the row has a column
for when the field is read, so a page of 50 customers costs 50 small objects, not 50 times 30
copied attributes. Fields whose value is not a column (the global `id`, enums, renamed
keys) are given to `from_row` and stored at once.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

T = TypeVar("T", bound="RowBacked")
E = TypeVar("E", bound=Enum)


class RowBacked:
    def __getattr__(self, name: str) -> Any:
        """Only called for what the instance does not hold: a column of its row."""
        row = self.__dict__.get("row")
        if row is None or name.startswith("_"):
            raise AttributeError(name)
        return getattr(row, name)


def from_row(cls: type[T], row: Any, **values: Any) -> T:
    """An instance of `cls` on `row`, without running the dataclass `__init__`."""
    instance = cls.__new__(cls)
    instance.__dict__.update(values, row=row)
    return instance


def member(enum: type[E], value: Any) -> E:
    """`enum(value)` by one dictionary lookup (an Enum call runs Python code in 3.11)."""
    found = enum._value2member_map_.get(value)
    return enum(value) if found is None else found  # type: ignore[return-value]
