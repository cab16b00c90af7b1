"""Usage events as they arrive: validation (all-or-nothing, indexed problems) and periods."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from domain.errors import BadUserInput
from domain.problems import Code, Problem, json_problem, text_problem

MAX_EVENTS = 1000
MAX_COST_DAYS = 92
MAX_PROPERTIES = 100


@dataclass(frozen=True, slots=True)
class Event:
    index: int
    transaction_id: str
    customer_ref: str
    event_type: str
    timestamp: datetime
    properties: dict[str, Any]


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
        at = ("input", "events", str(index))
        found: list[Problem] = []
        for name, limit in (("transactionId", 128), ("customerId", 255), ("eventType", 128)):
            value = item[name]
            problem = text_problem(value, (*at, name), limit)
            if problem is None and not value.strip():
                problem = Problem(Code.REQUIRED, (*at, name), "Must not be empty")
            if problem:
                found.append(problem)
        properties = item.get("properties")
        if properties is None:
            properties = {}
        if not isinstance(properties, dict):
            found.append(Problem(Code.INVALID, (*at, "properties"), "Must be a JSON object"))
        elif len(properties) > MAX_PROPERTIES:
            message = f"At most {MAX_PROPERTIES} properties"
            found.append(Problem(Code.LIMIT_EXCEEDED, (*at, "properties"), message))
        elif problem := json_problem(properties, (*at, "properties")):
            found.append(problem)
        problems += found
        if not found:
            timestamp = item.get("timestamp") or now
            valid.append(
                Event(
                    index,
                    item["transactionId"],
                    item["customerId"],
                    item["eventType"],
                    timestamp,
                    properties,
                )
            )
    return valid, problems


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
