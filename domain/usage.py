"""Usage events as they arrive: validation (all-or-nothing, indexed problems) and periods."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from domain.errors import BadUserInput
from domain.problems import Code, Problem, plain_json, text_problem, walk_json

MAX_EVENTS = 1000
MAX_COST_DAYS = 92
MAX_PROPERTIES = 100
MAX_TRANSACTION_ID, MAX_CUSTOMER_REF, MAX_EVENT_TYPE = 128, 255, 128
_TEXTS = (
    ("transactionId", MAX_TRANSACTION_ID),
    ("customerId", MAX_CUSTOMER_REF),
    ("eventType", MAX_EVENT_TYPE),
)


class Event(NamedTuple):  # a tuple: made a thousand times a call, faster than a dataclass
    position: int  # in the call's list
    transaction_id: str
    customer_ref: str
    event_type: str
    timestamp: datetime
    properties: dict[str, Any]
    properties_json: bytes | None  # orjson's encoding, when validation made it


def validate_events(
    events: list[dict[str, Any]], now: datetime
) -> tuple[list[Event], list[Problem]]:
    """Every problem of every event, by index; events without a timestamp happen `now`."""
    if len(events) > MAX_EVENTS:
        return [], [
            Problem(Code.LIMIT_EXCEEDED, ("input", "events"), f"At most {MAX_EVENTS} events")
        ]
    problems: list[Problem] = []
    valid: list[Event] = []
    for index, item in enumerate(events):
        properties = item.get("properties")
        if properties is None:
            properties = {}
        encoded = _plainly_valid(item, properties)
        if encoded is None:  # something to look at closely
            found = _problems(index, item, properties)
            if found:
                problems += found
                continue
        valid.append(
            Event(
                index,
                item["transactionId"],
                item["customerId"],
                item["eventType"],
                item.get("timestamp") or now,
                properties,
                encoded,
            )
        )
    return valid, problems


def _plainly_valid(item: dict[str, Any], properties: Any) -> bytes | None:
    """The properties' JSON text when the event is plainly valid (ASCII ids in their
    limits, plain JSON properties): what most events are, answered in a few steps. None
    sends the event to `_problems`, which may still find nothing."""
    transaction_id, customer_id = item["transactionId"], item["customerId"]
    event_type = item["eventType"]
    texts = transaction_id + customer_id + event_type
    if (
        texts.isascii()
        and "\x00" not in texts
        and 0 < len(transaction_id) <= MAX_TRANSACTION_ID
        and 0 < len(customer_id) <= MAX_CUSTOMER_REF
        and 0 < len(event_type) <= MAX_EVENT_TYPE
        and transaction_id.strip()
        and customer_id.strip()
        and event_type.strip()
        and type(properties) is dict
        and len(properties) <= MAX_PROPERTIES
    ):
        return plain_json(properties)
    return None


def _problems(index: int, item: dict[str, Any], properties: Any) -> list[Problem]:
    at = ("input", "events", str(index))
    found: list[Problem] = []
    for name, limit in _TEXTS:
        value = item[name]
        problem = text_problem(value, (*at, name), limit)
        if problem is None and not value.strip():
            problem = Problem(Code.REQUIRED, (*at, name), "Must not be empty")
        if problem:
            found.append(problem)
    if not isinstance(properties, dict):
        found.append(Problem(Code.INVALID, (*at, "properties"), "Must be a JSON object"))
    elif len(properties) > MAX_PROPERTIES:
        message = f"At most {MAX_PROPERTIES} properties"
        found.append(Problem(Code.LIMIT_EXCEEDED, (*at, "properties"), message))
    elif problem := walk_json(properties, (*at, "properties")):
        found.append(problem)
    return found


def cost_days(starting_on: datetime, ending_before: datetime) -> list[date]:
    """The UTC days of a costs range: both ends at midnight UTC, at most 92 days."""
    for name, moment in (("startingOn", starting_on), ("endingBefore", ending_before)):
        utc = moment.astimezone(UTC)
        if (utc.hour, utc.minute, utc.second, utc.microsecond) != (0, 0, 0, 0):
            raise BadUserInput(f"{name} must be midnight UTC", argument=name)
    days = (ending_before - starting_on).days
    if days <= 0:
        raise BadUserInput("endingBefore must be after startingOn", argument="endingBefore")
    if days > MAX_COST_DAYS:
        raise BadUserInput(f"At most {MAX_COST_DAYS} days at once", argument="endingBefore")
    first = starting_on.astimezone(UTC).date()
    return [first + timedelta(days=n) for n in range(days)]


def current_month(now: datetime) -> tuple[datetime, datetime]:
    """[first of this UTC month, first of the next)."""
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following
