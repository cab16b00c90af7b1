"""Billable metric definitions: validation (API.md, Billing) and their readable SQL."""

from __future__ import annotations

import re
from typing import Any

from domain.customers import CHECKS as CUSTOMER_CHECKS
from domain.problems import Code, Problem, text_problem

AGGREGATIONS = ("COUNT", "SUM", "MAX", "LATEST", "UNIQUE")
PROPERTY_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
MAX_FILTER_VALUES = 100
MAX_PROPERTY_FILTERS = 20

Field = tuple[str, ...]


def _values(values: Any, field: Field, problems: list[Problem]) -> None:
    if values is None:
        return
    if not values:
        problems.append(Problem(Code.INVALID, field, "Must not be an empty list"))
    elif len(values) > MAX_FILTER_VALUES:
        problems.append(Problem(Code.LIMIT_EXCEEDED, field, f"At most {MAX_FILTER_VALUES}"))
    for index, value in enumerate(values):
        problem = text_problem(value, (*field, str(index)), 200)
        if problem:
            problems.append(problem)


def _property_filters(filters: list[dict[str, Any]], problems: list[Problem]) -> set[str]:
    names: set[str] = set()
    if len(filters) > MAX_PROPERTY_FILTERS:
        field = ("input", "propertyFilters")
        problems.append(Problem(Code.LIMIT_EXCEEDED, field, f"At most {MAX_PROPERTY_FILTERS}"))
    for index, item in enumerate(filters):
        at: Field = ("input", "propertyFilters", str(index))
        name = item["name"]
        if not PROPERTY_NAME.fullmatch(name):
            problems.append(
                Problem(Code.INVALID, (*at, "name"), "Must match [A-Za-z0-9_.-]{1,100}")
            )
        elif name in names:
            problems.append(Problem(Code.INVALID, (*at, "name"), "Appears more than once"))
        names.add(name)
        _values(item.get("inValues"), (*at, "inValues"), problems)
        _values(item.get("notInValues"), (*at, "notInValues"), problems)
    return names


def validate_metric(values: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Columns of a new billable metric from `CreateBillableMetricInput`, and every problem."""
    problems: list[Problem] = []
    name = (values.get("name") or "").strip()
    problem = text_problem(name, ("input", "name"), 200)
    if problem:
        problems.append(problem)
    elif not name:
        problems.append(Problem(Code.REQUIRED, ("input", "name"), "Must not be empty"))
    event_filter = values.get("eventTypeFilter")
    if event_filter:
        for list_name in ("inValues", "notInValues"):
            path = ("input", "eventTypeFilter", list_name)
            _values(event_filter.get(list_name), path, problems)
        event_filter = {k: v for k, v in event_filter.items() if v is not None} or None
    filters = [
        {k: v for k, v in f.items() if v is not None} for f in values.get("propertyFilters") or []
    ]
    names = _property_filters(filters, problems)
    aggregation = values["aggregationType"]
    key = values.get("aggregationKey")
    if aggregation != "COUNT" and not key:
        message = f"{aggregation} needs an aggregationKey"
        problems.append(Problem(Code.REQUIRED, ("input", "aggregationKey"), message))
    elif key and key not in names:
        message = "Must be the name of one of the propertyFilters"
        problems.append(Problem(Code.INVALID, ("input", "aggregationKey"), message))
    group_keys = values.get("groupKeys") or []
    for index, group in enumerate(group_keys):
        at: Field = ("input", "groupKeys", str(index))
        if not group:
            problems.append(Problem(Code.INVALID, at, "A group key names at least one property"))
        for name_in_group in group:
            if name_in_group not in names:
                problems.append(
                    Problem(
                        Code.INVALID, at, f"{name_in_group[:100]!r} is not a property filter name"
                    )
                )
    custom_fields = CUSTOMER_CHECKS["customFields"](
        values.get("customFields") or [], ("input", "customFields"), problems
    )
    columns = {
        "name": name,
        "aggregation_type": aggregation,
        "aggregation_key": key,
        "event_type_filter": event_filter,
        "property_filters": filters,
        "group_keys": group_keys,
        "custom_fields": custom_fields,
    }
    return columns, problems


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _property(name: str) -> str:
    return f"properties ->> {_quote(name)}"


def _aggregate(aggregation: str, key: str | None) -> str:
    if aggregation == "COUNT" or key is None:
        return "COUNT(*)"
    value = f"({_property(key)})::numeric"
    if aggregation == "UNIQUE":
        return f"COUNT(DISTINCT {_property(key)})"
    if aggregation == "LATEST":
        return f"(array_agg({value} ORDER BY timestamp DESC))[1]"
    return f"{aggregation}({value})"


def metric_sql(
    aggregation: str,
    key: str | None,
    event_type_filter: dict[str, Any] | None,
    property_filters: list[dict[str, Any]],
    group_keys: list[list[str]],
) -> str:
    """A readable PostgreSQL statement equivalent to what the metric computes."""
    conditions = ["tenant_id = :tenant_id", "customer_id = :customer_id"]
    conditions += ["timestamp >= :starting_on", "timestamp < :ending_before"]
    for name, op in (("inValues", "IN"), ("notInValues", "NOT IN")):
        values = (event_type_filter or {}).get(name)
        if values:
            conditions.append(f"event_type {op} ({', '.join(_quote(v) for v in values)})")
    for item in property_filters:
        name = item["name"]
        if item.get("exists") is True:
            conditions.append(f"properties ? {_quote(name)}")
        elif item.get("exists") is False:
            conditions.append(f"NOT properties ? {_quote(name)}")
        for field_name, op in (("inValues", "IN"), ("notInValues", "NOT IN")):
            values = item.get(field_name)
            if values:
                listed = ", ".join(_quote(v) for v in values)
                conditions.append(f"{_property(name)} {op} ({listed})")
    groups = [_property(name) for name in (group_keys[0] if group_keys else [])]
    select = [*groups, f"{_aggregate(aggregation, key)} AS quantity"]
    statement = f"SELECT {', '.join(select)}\nFROM usage_events\nWHERE " + "\n  AND ".join(
        conditions
    )
    if groups:
        statement += f"\nGROUP BY {', '.join(groups)}"
    return statement
