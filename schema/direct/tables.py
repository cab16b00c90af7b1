"""Which GraphQL fields of which object types are columns of which table.

A field of a type listed here is answered from its row in one of three ways:
- `id`: the global ID of the row's primary key (every type here is a Relay Node);
- a field named in `computed`: a function of one column, e.g. `isArchived`;
- any other field without a resolver whose Python name is a column: that column, completed
  like any value of the field's GraphQL type (an enum from its stored value, a DateTime
  in UTC with `Z`), exactly as the type's `from_row` and Strawberry would answer it.
Nested connections are `children`: the loaders' child specifications (resolvers/specs.py)
with the normalised filters their arguments make. Anything else is not planned here and
the query runs on the executor (schema/execution) instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from models import Customer, Instance, Subscription
from resolvers.children import ChildSpec
from resolvers.specs import CUSTOMER_INSTANCES, CUSTOMER_SUBSCRIPTIONS
from schema.customers import status_filters


@dataclass(frozen=True, slots=True)
class Child:
    """A nested connection: its rows, the filters its converted arguments make."""

    spec: ChildSpec
    filters: Callable[[dict[str, Any]], tuple[Any, ...]]
    parent: str  # the column of the parent's id
    node_type: str


@dataclass(frozen=True, slots=True)
class Table:
    type_name: str
    model: Any
    computed: dict[str, tuple[str, Callable[[Any], Any]]] = field(default_factory=dict)
    children: dict[str, Child] = field(default_factory=dict)

    def column(self, name: str) -> Any:
        """The model's column of that Python name, or None."""
        return self.model.__table__.columns.get(name)

    @property
    def column_order(self) -> dict[str, int]:
        return {column.key: index for index, column in enumerate(self.model.__table__.columns)}


def _by_status(kwargs: dict[str, Any]) -> tuple[Any, ...]:
    return status_filters(kwargs.get("status"))


def _is_set(value: Any) -> bool:
    return value is not None


TABLES = {
    "Customer": Table(
        "Customer",
        Customer,
        computed={"isArchived": ("archived_at", _is_set)},
        children={
            "subscriptions": Child(
                CUSTOMER_SUBSCRIPTIONS, _by_status, "customer_id", "Subscription"
            ),
            "instances": Child(CUSTOMER_INSTANCES, _by_status, "customer_id", "Instance"),
        },
    ),
    "Subscription": Table("Subscription", Subscription),
    "Instance": Table("Instance", Instance),
}
