"""Which GraphQL fields of which object types are columns of which table.

A field of a type listed in `TABLES` is answered from its row in one of these ways:
- `id`: the global ID of the row's primary key (every type here is a Relay Node);
- `computed`: a function of one column, e.g. `isArchived`;
- `composites`: a small object (or a list of them) built from some columns, e.g.
  `customFields` or `billableStatus`, its fields chosen from what `VALUES` lists;
- `sides`: a value read by another statement for all the parents at once, as the loaders
  do (`ingestAliases`, the per-customer counts);
- `children`: a nested connection: the loaders' child specifications (resolvers/specs.py)
  with the normalised filters their arguments make;
- any other field without a resolver whose Python name is a column: that column, completed
  like any value of the field's GraphQL type (an enum from its stored value, a DateTime in
  UTC with `Z`), exactly as the type's `from_row` and Strawberry would answer it.
Every value a function here gives is complete: what the response holds. Anything else is
not planned and the query runs on the executor (schema/execution) instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLString
from sqlalchemy import Select

from models import Customer, CustomerIngestAlias, Instance, Subscription
from resolvers.children import ChildSpec
from resolvers.loaders import by_parents, customer_stats
from resolvers.specs import CUSTOMER_INSTANCES, CUSTOMER_SUBSCRIPTIONS
from schema.customers import BillableStatusValue, status_filters
from schema.direct.errors import Fallback
from schema.execution.plan import serializer
from schema.plans import SubscriptionStatus
from schema.scalars import serialize_datetime


@dataclass(frozen=True, slots=True)
class Child:
    """A nested connection: its rows, the filters its converted arguments make."""

    spec: ChildSpec
    filters: Callable[[dict[str, Any]], tuple[Any, ...]]
    parent: str  # the column of the parent's id
    node_type: str


@dataclass(frozen=True, slots=True)
class Side:
    """Another statement's rows for a batch of parents: `statement()` binds the parents'
    ids as `parameter`; `parent` is the column of each row's parent; `many` rows a parent,
    or one."""

    name: str
    statement: Callable[[], Select[Any]]
    parameter: str
    parent: str
    many: bool


@dataclass(frozen=True, slots=True)
class SideField:
    """A field answered from a side: `value(rows or row)` is the answer."""

    side: Side
    value: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Composite:
    """A field whose object (a dict by GraphQL field name, a list of them, or None) is
    `build(*values of columns)`."""

    columns: tuple[str, ...]
    build: Callable[..., Any]
    type_name: str


@dataclass(frozen=True, slots=True)
class Table:
    type_name: str
    model: Any
    computed: dict[str, tuple[str, Callable[[Any], Any]]] = field(default_factory=dict)
    composites: dict[str, Composite] = field(default_factory=dict)
    sides: dict[str, SideField] = field(default_factory=dict)
    children: dict[str, Child] = field(default_factory=dict)

    def side(self, name: str) -> Side:
        return next(f.side for f in self.sides.values() if f.side.name == name)

    def column(self, name: str) -> Any:
        """The model's column of that Python name, or None."""
        return self.model.__table__.columns.get(name)

    @property
    def column_order(self) -> dict[str, int]:
        return {column.key: index for index, column in enumerate(self.model.__table__.columns)}


# Object types answered from plain values: their fields, each a leaf (None) or the name of
# the object type it holds.
VALUES: dict[str, dict[str, str | None]] = {
    "Viewer": {"tenant": "Tenant", "scopes": None},
    "Tenant": {"id": None, "name": None},
    "CustomField": {"key": None, "value": None},
    "CustomerConfig": {"salesforceAccountId": None, "leaveStripeInvoicesInDraft": None},
    "BillableStatus": {"value": None, "effectiveAt": None},
}

_string = serializer(GraphQLString)
_statuses = {member.value: member.name for member in SubscriptionStatus}
_billable = {member.value: member.name for member in BillableStatusValue}


def _by_status(kwargs: dict[str, Any]) -> tuple[Any, ...]:
    return status_filters(kwargs.get("status"))


def _is_set(value: Any) -> bool:
    return value is not None


def _custom_fields(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": _string(k), "value": _string(v)} for k, v in sorted(values.items())]


def _config(salesforce_account_id: Any, leave_in_draft: Any) -> dict[str, Any]:
    return {
        "salesforceAccountId": salesforce_account_id,
        "leaveStripeInvoicesInDraft": leave_in_draft,
    }


def _billable_status(value: str, effective_at: Any) -> dict[str, Any]:
    if value not in _billable:
        raise Fallback(f"billable status {value!r}")
    return {"value": _billable[value], "effectiveAt": serialize_datetime(effective_at)}


ALIASES = Side(
    "aliases",
    lambda: by_parents(
        (CustomerIngestAlias.customer_id, CustomerIngestAlias.alias),
        CustomerIngestAlias.customer_id,
        CustomerIngestAlias.id,
    ),
    "parents",
    "customer_id",
    many=True,
)
STATS = Side("stats", customer_stats, "ids", "id", many=False)


def _aliases(rows: Sequence[Any]) -> list[str]:
    return [row.alias for row in rows]


def _count(name: str) -> Callable[[Any], int]:
    def count(row: Any) -> int:
        if row is None:
            raise Fallback(f"no {name} for a customer")
        return int(getattr(row, name))

    return count


def _latest_status(row: Any) -> str | None:
    if row is None:
        raise Fallback("no counts for a customer")
    if row.latest_status is None:
        return None
    if row.latest_status not in _statuses:
        raise Fallback(f"subscription status {row.latest_status!r}")
    return _statuses[row.latest_status]


TABLES = {
    "Customer": Table(
        "Customer",
        Customer,
        computed={"isArchived": ("archived_at", _is_set)},
        composites={
            "customFields": Composite(("custom_fields",), _custom_fields, "CustomField"),
            "config": Composite(
                ("salesforce_account_id", "leave_stripe_invoices_in_draft"),
                _config,
                "CustomerConfig",
            ),
            "billableStatus": Composite(
                ("billable_status", "billable_status_effective_at"),
                _billable_status,
                "BillableStatus",
            ),
        },
        sides={
            "ingestAliases": SideField(ALIASES, _aliases),
            "subscriptionCount": SideField(STATS, _count("subscriptions")),
            "activeSubscriptionCount": SideField(STATS, _count("active_subscriptions")),
            "latestSubscriptionStatus": SideField(STATS, _latest_status),
            "instanceCount": SideField(STATS, _count("instances")),
            "runningInstanceCount": SideField(STATS, _count("running_instances")),
        },
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
