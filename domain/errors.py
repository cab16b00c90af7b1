"""Request-level errors raised below the GraphQL layer and rendered with `extensions.code`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ApiError(Exception):
    """An expected, client-facing error: its message and extensions reach the client."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = {"code": self.code, **extensions}


class BadUserInput(ApiError):
    code = "BAD_USER_INPUT"


class Forbidden(ApiError):
    code = "FORBIDDEN"

    def __init__(self, missing_scopes: Sequence[str]) -> None:
        scopes = sorted(missing_scopes)
        super().__init__(f"This API key lacks the scope {', '.join(scopes)}", missingScopes=scopes)


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"

    def __init__(self) -> None:
        super().__init__("Invalid API key")


class NotFound(ApiError):
    code = "NOT_FOUND"


def request_error_code(message: str, has_path: bool, has_cause: bool) -> str:
    """A code for an error raised before execution (Apollo's names), or BAD_USER_INPUT for
    a bad argument or variable value."""
    if "tokens. Parsing aborted" in message:
        return "QUERY_TOO_COMPLEX"
    if message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if has_path or has_cause or message.startswith("Variable "):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"
