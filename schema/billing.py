"""BillableMetric and its filters, metric inputs and payloads, and the metric fields."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry

from domain.ids import encode_global_id
from domain.metrics import metric_sql
from resolvers import billing as resolve
from resolvers.context import Info
from resolvers.pagination import PageArgs
from schema.common import CustomField, CustomFieldInput
from schema.connections import Connection, connection
from schema.errors import UserError, user_errors
from schema.inputs import input_dict
from schema.relay import Node, entity

Arg = strawberry.argument


@strawberry.enum
class AggregationType(Enum):
    COUNT = "COUNT"
    SUM = "SUM"
    MAX = "MAX"
    LATEST = "LATEST"
    UNIQUE = "UNIQUE"


@strawberry.type
class EventTypeFilter:
    in_values: list[str] | None
    not_in_values: list[str] | None


@strawberry.type
class PropertyFilter:
    name: str
    exists: bool | None
    in_values: list[str] | None
    not_in_values: list[str] | None


@strawberry.federation.type(keys=["id"], description="How usage events become a quantity.")
class BillableMetric(Node):
    id: strawberry.ID
    name: str
    aggregation_type: AggregationType
    aggregation_key: str | None
    event_type_filter: EventTypeFilter | None
    property_filters: list[PropertyFilter]
    group_keys: list[list[str]]
    custom_fields: list[CustomField]
    created_at: datetime
    archived_at: datetime | None
    row: strawberry.Private[Any]

    @strawberry.field(
        description="A readable SQL statement equivalent to what this metric computes over "
        "usage events."
    )
    def sql(self) -> str:
        row = self.row
        return metric_sql(
            row.aggregation_type,
            row.aggregation_key,
            row.event_type_filter,
            row.property_filters,
            row.group_keys,
        )

    @classmethod
    def from_row(cls, row: Any) -> BillableMetric:
        event_filter = row.event_type_filter
        return cls(
            id=strawberry.ID(encode_global_id("BillableMetric", row.id)),
            name=row.name,
            aggregation_type=AggregationType(row.aggregation_type),
            aggregation_key=row.aggregation_key,
            event_type_filter=EventTypeFilter(
                in_values=event_filter.get("inValues"),
                not_in_values=event_filter.get("notInValues"),
            )
            if event_filter
            else None,
            property_filters=[
                PropertyFilter(
                    name=item["name"],
                    exists=item.get("exists"),
                    in_values=item.get("inValues"),
                    not_in_values=item.get("notInValues"),
                )
                for item in row.property_filters
            ],
            group_keys=row.group_keys,
            custom_fields=[
                CustomField(key=k, value=v) for k, v in sorted(row.custom_fields.items())
            ],
            created_at=row.created_at,
            archived_at=row.archived_at,
            row=row,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> BillableMetric | None:
        return await entity(cls, info, id)


@strawberry.input
class EventTypeFilterInput:
    in_values: list[str] | None = strawberry.UNSET
    not_in_values: list[str] | None = strawberry.UNSET


@strawberry.input
class PropertyFilterInput:
    name: str
    exists: bool | None = strawberry.UNSET
    in_values: list[str] | None = strawberry.UNSET
    not_in_values: list[str] | None = strawberry.UNSET


@strawberry.input(
    description="aggregationKey is required unless COUNT and must be a property filter name."
)
class CreateBillableMetricInput:
    name: str
    aggregation_type: AggregationType
    aggregation_key: str | None = strawberry.UNSET
    event_type_filter: EventTypeFilterInput | None = strawberry.UNSET
    property_filters: list[PropertyFilterInput] | None = strawberry.UNSET
    group_keys: list[list[str]] | None = strawberry.UNSET
    custom_fields: list[CustomFieldInput] | None = strawberry.UNSET


@strawberry.input
class ArchiveBillableMetricInput:
    id: strawberry.ID


@strawberry.type
class CreateBillableMetricPayload:
    billable_metric: BillableMetric | None
    user_errors: list[UserError]


@strawberry.type
class ArchiveBillableMetricPayload:
    billable_metric: BillableMetric | None
    user_errors: list[UserError]


def _metric(row: Any) -> BillableMetric | None:
    return None if row is None else BillableMetric.from_row(row)


async def billable_metrics(
    info: Info,
    first: Annotated[int | None, Arg(description="At most 100; default 20.")] = None,
    after: str | None = None,
    last: Annotated[int | None, Arg(description="At most 100.")] = None,
    before: str | None = None,
    include_archived: bool | None = False,
) -> Connection[BillableMetric]:
    """The tenant's billable metrics, newest first. Needs read:billing."""
    page = PageArgs(first=first, after=after, last=last, before=before)
    result = await resolve.resolve_billable_metrics(info.context, page, bool(include_archived))
    return connection(result, BillableMetric.from_row)


async def create_billable_metric(
    info: Info, input: CreateBillableMetricInput
) -> CreateBillableMetricPayload:
    result = await resolve.create_billable_metric(info.context, input_dict(input))
    return CreateBillableMetricPayload(
        billable_metric=_metric(result.row), user_errors=user_errors(result.problems)
    )


async def archive_billable_metric(
    info: Info, input: ArchiveBillableMetricInput
) -> ArchiveBillableMetricPayload:
    result = await resolve.archive_billable_metric(info.context, str(input.id))
    return ArchiveBillableMetricPayload(
        billable_metric=_metric(result.row), user_errors=user_errors(result.problems)
    )
