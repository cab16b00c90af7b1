"""Scalars of the contract: DateTime (RFC 3339, always answered in UTC with `Z`)."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry


def serialize_datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_datetime(value: object) -> datetime:
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError("DateTime must be an RFC 3339 string such as 2024-08-10T12:00:00Z")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an RFC 3339 date-time") from None
    if parsed.tzinfo is None:
        raise ValueError("DateTime needs an offset, e.g. 2024-08-10T12:00:00Z")
    return parsed.astimezone(UTC)


DateTime = strawberry.scalar(
    name="DateTime",
    description='RFC 3339 with offset; answered in UTC ("2024-08-10T12:00:00Z")',
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)
