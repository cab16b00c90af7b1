"""Validation and normalisation of customer input (API.md, Customers).

Input arrives as a dict keyed by the GraphQL input field names (camelCase): a key that is
absent was omitted, a key whose value is None was an explicit null. The output is a dict
keyed by column name, and every problem found (validation never stops at the first).
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

import langcodes
import pycountry
from email_validator import EmailNotValidError, validate_email

from domain.problems import Code, Problem, json_problem, text_problem

DISPLAY_NAME_MAX = 160
COMPANY_NAME_MAX = 200
HANDLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
CUSTOM_FIELD_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
PHONE = re.compile(r"\+?[0-9 ().-]{3,32}")
MAX_ALIASES = 100
MAX_CUSTOM_FIELDS = 100
MAX_PROVIDER_CONFIGURATIONS = 20

# Updatable fields: input name → column name. `updateMask` accepts either spelling.
UPDATABLE = {
    "handle": "handle",
    "externalId": "external_id",
    "accountType": "account_type",
    "displayName": "display_name",
    "companyName": "company_name",
    "firstName": "first_name",
    "lastName": "last_name",
    "email": "email",
    "phone": "phone",
    "countryCode": "country_code",
    "currency": "currency",
    "locale": "locale",
    "timezone": "timezone",
    "industry": "industry",
    "description": "description",
    "runbook": "runbook",
    "customFields": "custom_fields",
    "billingConfig": "billing_config",
    "billingProviderConfigurations": "billing_provider_configurations",
    "stripeCustomerId": "stripe_customer_id",
    "billableStatus": "billable_status",
}
# Fields whose output is non-null: clearing them is REQUIRED (accountType/billableStatus
# have defaults a user can set again explicitly).
NOT_CLEARABLE = {"displayName", "accountType", "billableStatus"}
CLEARED_VALUE: dict[str, Any] = {
    "customFields": {},
    "billingProviderConfigurations": [],
}

Field = tuple[str, ...]
Checker = Callable[[Any, Field, list[Problem]], Any]


def _text(max_length: int) -> Checker:
    def check(value: str, field: Field, problems: list[Problem]) -> str:
        problem = text_problem(value, field, max_length)
        if problem:
            problems.append(problem)
        return value

    return check


def _pattern(regex: re.Pattern[str], max_length: int, what: str) -> Checker:
    def check(value: str, field: Field, problems: list[Problem]) -> str:
        problem = text_problem(value, field, max_length)
        if problem:
            problems.append(problem)
        elif not regex.fullmatch(value):
            problems.append(Problem(Code.INVALID, field, f"Is not a valid {what}"))
        return value

    return check


def _membership(known: Callable[[], frozenset[str]], what: str, upper: bool) -> Checker:
    def check(value: str, field: Field, problems: list[Problem]) -> str:
        normalised = value.upper() if upper else value
        if normalised not in known():
            problems.append(Problem(Code.INVALID, field, f"Is not a valid {what}"))
        return normalised

    return check


@cache
def _countries() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


@cache
def _currencies() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies)


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _email(value: str, field: Field, problems: list[Problem]) -> str:
    problem = text_problem(value, field, 320)
    if problem:
        problems.append(problem)
        return value
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        problems.append(Problem(Code.INVALID, field, "Is not a valid email address"))
        return value


def _locale(value: str, field: Field, problems: list[Problem]) -> str:
    problem = text_problem(value, field, 64)
    if problem or not langcodes.tag_is_valid(value):
        problems.append(problem or Problem(Code.INVALID, field, "Is not a BCP 47 language tag"))
    return value


def _display_name(value: str, field: Field, problems: list[Problem]) -> str:
    value = value.strip()[:DISPLAY_NAME_MAX]
    problem = text_problem(value, field, DISPLAY_NAME_MAX)
    if problem:
        problems.append(problem)
    elif not value:
        problems.append(Problem(Code.REQUIRED, field, "Must not be empty"))
    return value


def _aliases(value: list[str], field: Field, problems: list[Problem]) -> list[str]:
    if len(value) > MAX_ALIASES:
        problems.append(Problem(Code.LIMIT_EXCEEDED, field, f"At most {MAX_ALIASES} aliases"))
        return value
    seen: set[str] = set()
    for index, alias in enumerate(value):
        at = (*field, str(index))
        problem = text_problem(alias, at, 255)
        if problem:
            problems.append(problem)
        elif not alias.strip():
            problems.append(Problem(Code.INVALID, at, "Must not be empty"))
        elif alias.lower() in seen:
            problems.append(Problem(Code.INVALID, at, "Appears more than once"))
        seen.add(alias.lower())
    return value


def _custom_fields(value: list[dict[str, str]], field: Field, problems: list[Problem]) -> Any:
    if len(value) > MAX_CUSTOM_FIELDS:
        problems.append(Problem(Code.LIMIT_EXCEEDED, field, f"At most {MAX_CUSTOM_FIELDS}"))
        return {}
    result: dict[str, str] = {}
    for index, item in enumerate(value):
        at = (*field, str(index))
        key, text = item["key"], item["value"]
        if not CUSTOM_FIELD_KEY.fullmatch(key):
            problems.append(Problem(Code.INVALID, (*at, "key"), "Must match [A-Za-z0-9_-]{1,64}"))
        elif key in result:
            problems.append(Problem(Code.INVALID, (*at, "key"), "Appears more than once"))
        problem = text_problem(text, (*at, "value"), 1000)
        if problem:
            problems.append(problem)
        result[key] = text
    return result


def _billing_config(value: dict[str, Any], field: Field, problems: list[Problem]) -> Any:
    for name in ("billingProviderCustomerId", "awsProductCode", "awsRegion"):
        text = value.get(name)
        if isinstance(text, str):
            problem = text_problem(text, (*field, name), 255)
            if problem:
                problems.append(problem)
    if not str(value.get("billingProviderCustomerId") or "").strip():
        at = (*field, "billingProviderCustomerId")
        problems.append(Problem(Code.REQUIRED, at, "Must not be empty"))
    return {k: v for k, v in value.items() if v is not None}


def _provider_configurations(value: list[Any], field: Field, problems: list[Problem]) -> Any:
    if len(value) > MAX_PROVIDER_CONFIGURATIONS:
        limit = MAX_PROVIDER_CONFIGURATIONS
        problems.append(Problem(Code.LIMIT_EXCEEDED, field, f"At most {limit}"))
        return []
    result = []
    for index, item in enumerate(value):
        configuration = item.get("configuration")
        if configuration is None:
            configuration = {}
        at = (*field, str(index), "configuration")
        if not isinstance(configuration, dict):
            problems.append(Problem(Code.INVALID, at, "Must be a JSON object"))
        else:
            problem = json_problem(configuration, at)
            if problem:
                problems.append(problem)
        delivery_id = item.get("deliveryMethodId")
        if isinstance(delivery_id, str):
            problem = text_problem(delivery_id, (*field, str(index), "deliveryMethodId"), 255)
            if problem:
                problems.append(problem)
        result.append(
            {
                **{k: v for k, v in item.items() if v is not None},
                "configuration": configuration,
            }
        )
    return result


def _enum(value: str, field: Field, problems: list[Problem]) -> str:
    return value


CHECKS: dict[str, Checker] = {
    "handle": _pattern(HANDLE, 63, "handle (^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$)"),
    "externalId": _text(255),
    "accountType": _enum,
    "displayName": _display_name,
    "companyName": _text(COMPANY_NAME_MAX),
    "firstName": _text(200),
    "lastName": _text(200),
    "email": _email,
    "phone": _pattern(PHONE, 64, "phone number"),
    "countryCode": _membership(_countries, "ISO 3166-1 alpha-2 country code", upper=True),
    "currency": _membership(_currencies, "ISO 4217 currency code", upper=True),
    "locale": _locale,
    "timezone": _membership(_timezones, "IANA time zone", upper=False),
    "industry": _text(200),
    "description": _text(10_000),
    "runbook": _text(100_000),
    "customFields": _custom_fields,
    "billingConfig": _billing_config,
    "billingProviderConfigurations": _provider_configurations,
    "stripeCustomerId": _text(255),
    "billableStatus": _enum,
    "ingestAliases": _aliases,
    "salesforceAccountId": _text(255),
}
COLUMNS = {
    **UPDATABLE,
    "ingestAliases": "ingest_aliases",
    "salesforceAccountId": "salesforce_account_id",
}
COLUMNS["leaveStripeInvoicesInDraft"] = "leave_stripe_invoices_in_draft"


def clean_fields(
    values: dict[str, Any], path: Field = ("input",)
) -> tuple[dict[str, Any], list[Problem]]:
    """Validate and normalise the given fields; None (a clear) passes through unchecked."""
    columns: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, value in values.items():
        column = COLUMNS.get(name)
        if column is None:
            continue
        if value is None:
            if name in NOT_CLEARABLE:
                problems.append(Problem(Code.REQUIRED, (*path, name), "Can not be cleared"))
            columns[column] = CLEARED_VALUE.get(name)
            continue
        check = CHECKS.get(name)
        columns[column] = check(value, (*path, name), problems) if check else value
    return columns, problems


def derive_display_name(values: dict[str, Any]) -> str | None:
    """displayName, else companyName, else "firstName lastName" (API.md)."""
    for candidate in (
        values.get("displayName"),
        values.get("companyName"),
        " ".join(filter(None, (values.get("firstName"), values.get("lastName")))),
    ):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()[:DISPLAY_NAME_MAX]
    return None


def apply_update_mask(
    values: dict[str, Any], mask: list[str] | None
) -> tuple[dict[str, Any], list[Problem]]:
    """AIP-134: with a mask only listed fields change, and a listed field not given is cleared."""
    given = {name: value for name, value in values.items() if name in UPDATABLE}
    if mask is None:
        return given, []
    listed: set[str] = set()
    for entry in mask:
        name = entry if entry in UPDATABLE else _camel(entry)
        if entry == "*":
            listed.update(UPDATABLE)
        elif name in UPDATABLE:
            listed.add(name)
        else:
            field = ("input", "updateMask")
            return {}, [Problem(Code.INVALID, field, f"Unknown field {entry[:80]!r} in updateMask")]
    return {name: given.get(name) for name in listed}, []


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def billable_status_change(columns: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A change of billable status also moves its effective time."""
    if columns.get("billable_status"):
        return {**columns, "billable_status_effective_at": now}
    return columns
