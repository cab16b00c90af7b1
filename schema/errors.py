"""UserError for payloads, and the masking of unexpected exceptions."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from enum import Enum

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from domain.errors import ApiError
from domain.problems import Problem
from models.db import is_unavailable

log = logging.getLogger("customergraph.errors")


@strawberry.enum(description="Why an input was refused.")
class UserErrorCode(Enum):
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    TAKEN = "TAKEN"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    ARCHIVED = "ARCHIVED"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"


@strawberry.type(description="A problem with a mutation's input; nothing was written.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path to the offending input field, e.g. ["input", "email"] or '
        '["input", "events", "3", "customerId"].'
    )
    message: str
    code: UserErrorCode


def user_errors(problems: Iterable[Problem]) -> list[UserError]:
    return [
        UserError(field=list(p.field), message=p.message, code=UserErrorCode[p.code.value])
        for p in problems
    ]


def is_unexpected(error: GraphQLError) -> bool:
    """Only exceptions we did not raise on purpose are masked (and logged in full).

    Errors without a path come before execution: parsing, validation, and coercion of
    argument and variable values (a scalar's ValueError), so they are the client's.
    """
    original = error.original_error
    if original is None or isinstance(original, (ApiError, GraphQLError)):
        return False
    if not error.path and isinstance(original, (ValueError, TypeError)):
        return False
    if is_unavailable(original):
        log.warning("database unavailable at %s: %s", error.path, type(original).__name__)
    else:
        log.error("unexpected error at %s", error.path, exc_info=original)
    return True


class MaskUnexpectedErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message="Internal server error")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        if error.original_error is not None and is_unavailable(error.original_error):
            masked.message = "Service unavailable"
            masked.extensions = {"code": "SERVICE_UNAVAILABLE"}
        else:
            masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked
