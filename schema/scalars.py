"""Scalars of the contract: DateTime (RFC 3339, answered in UTC with `Z`) and Decimal."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as PyDecimal
from decimal import InvalidOperation

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


def serialize_decimal(value: PyDecimal) -> str:
    """Exact, without float noise: trailing zeros dropped, at least two decimals ("12.50")."""
    if value.is_zero():
        value = PyDecimal(0)
    whole, _, fraction = format(value, "f").partition(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


def parse_decimal(value: object) -> PyDecimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError('Decimal must be a string such as "12.50"')
    text = str(value).strip()
    if len(text) > 64:
        raise ValueError("Decimal is too long")
    try:
        parsed = PyDecimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a decimal number") from None
    if not parsed.is_finite():
        raise ValueError("Decimal must be finite")
    return parsed


DateTime = strawberry.scalar(
    name="DateTime",
    description='RFC 3339 with offset; answered in UTC ("2024-08-10T12:00:00Z")',
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)

Decimal = strawberry.scalar(
    name="Decimal",
    description='Exact decimal, serialized as a string: "12.50"',
    serialize=serialize_decimal,
    parse_value=parse_decimal,
)
