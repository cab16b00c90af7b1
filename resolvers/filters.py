"""The AIP-160 filter of `customers(filter:)` compiled to parameterised SQL.

`domain.filters.parse_filter` builds the tree; this module maps each comparison to a
SQLAlchemy expression on customer columns. Values are always bound parameters. Every
comparison is two-valued (a NULL column makes `=` false and `!=` true), so NOT behaves.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, ColumnElement, and_, exists, false, func, literal, not_, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from domain.errors import BadUserInput
from domain.filters import And, Comparison, FilterSyntaxError, Node, Not, Or, parse_filter
from domain.problems import text_problem
from models import Customer, CustomerIngestAlias

MAX_VALUE_LENGTH = 1000
ORDERING = {"<", "<=", ">", ">="}

STRING_FIELDS: dict[str, Any] = {
    "display_name": Customer.display_name,
    "email": Customer.email,
    "external_id": Customer.external_id,
    "handle": Customer.handle,
    "company_name": Customer.company_name,
    "industry": Customer.industry,
}
UPPERCASE_FIELDS: dict[str, Any] = {
    "account_type": Customer.account_type,
    "country_code": Customer.country_code,
    "currency": Customer.currency,
}
TIME_FIELDS: dict[str, Any] = {
    "create_time": Customer.created_at,
    "created_at": Customer.created_at,
    "update_time": Customer.updated_at,
    "updated_at": Customer.updated_at,
}
KNOWN_FIELDS = sorted(
    [*STRING_FIELDS, *UPPERCASE_FIELDS, *TIME_FIELDS, "custom_fields.<key>", "ingest_aliases"]
)


def _error(comparison: Comparison, message: str) -> BadUserInput:
    return BadUserInput(
        f"Invalid filter at position {comparison.position}: {message}",
        argument="filter",
        position=comparison.position,
    )


def _like_pattern(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def _glob_pattern(value: str) -> str:
    """SQLite GLOB pattern for `*` wildcards; GLOB's own metacharacters made literal."""
    parts = ["".join(f"[{c}]" if c in "?[" else c for c in part) for part in value.split("*")]
    return "*".join(parts)


class _WildcardMatch(FunctionElement[bool]):
    """`column` matches a value with `*` wildcards, case-sensitively on every database.

    Arguments: the column, its LIKE pattern and its GLOB pattern. SQLite's LIKE ignores
    ASCII case, so SQLite uses GLOB (case-sensitive); the others use LIKE.
    """

    type = Boolean()
    name = "wildcard_match"
    inherit_cache = True


@compiles(_WildcardMatch)
def _compile_wildcard_match(element: _WildcardMatch, compiler: SQLCompiler, **kw: Any) -> str:
    column, like, _ = list(element.clauses)
    return compiler.process(column.like(like, escape="\\"), **kw)


@compiles(_WildcardMatch, "sqlite")
def _compile_wildcard_match_sqlite(
    element: _WildcardMatch, compiler: SQLCompiler, **kw: Any
) -> str:
    column, _, glob = list(element.clauses)
    return compiler.process(column.op("GLOB", is_comparison=True)(glob), **kw)


def _wildcard_match(column: Any, value: str) -> ColumnElement[bool]:
    patterns = (literal(_like_pattern(value)), literal(_glob_pattern(value)))
    return _WildcardMatch(column, *patterns)


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "!=":
        return or_(column.is_(None), column != value)
    operators: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
        "=": lambda c, v: c == v,
        "<": lambda c, v: c < v,
        "<=": lambda c, v: c <= v,
        ">": lambda c, v: c > v,
        ">=": lambda c, v: c >= v,
    }
    return and_(column.is_not(None), operators[op](column, value))


def _string(column: Any, comparison: Comparison) -> ColumnElement[bool]:
    op, value = comparison.op, comparison.value
    if op == ":":
        # has: case-insensitive, `*` matches any run of characters.
        pattern = _like_pattern(value.lower())
        return and_(column.is_not(None), func.lower(column).like(pattern, escape="\\"))
    if "*" in value and op in ("=", "!="):
        # Case-sensitive like `=` without wildcards (SQLite's LIKE alone would ignore case).
        matched = and_(column.is_not(None), _wildcard_match(column, value))
        return matched if op == "=" else not_(matched)
    return _compare(column, op, value)


def _timestamp(column: Any, comparison: Comparison) -> ColumnElement[bool]:
    if comparison.op == ":":
        raise _error(comparison, f"':' does not apply to {comparison.field}")
    try:
        moment = datetime.fromisoformat(comparison.value.replace("z", "Z"))
    except ValueError:
        raise _error(comparison, f"{comparison.value[:40]!r} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _compare(column, comparison.op, moment.astimezone(UTC))


def _alias(comparison: Comparison) -> ColumnElement[bool]:
    if comparison.op not in ("=", "!=", ":"):
        raise _error(comparison, "ingest_aliases takes =, != or :")
    # Aliases are unique case-insensitively, so every comparison ignores case; `:` and a
    # value with `*` match wildcards like the string fields do.
    alias, value = func.lower(CustomerIngestAlias.alias), comparison.value.lower()
    condition: ColumnElement[bool]
    if comparison.op == ":" or "*" in value:
        condition = alias.like(_like_pattern(value), escape="\\")
    else:
        condition = alias == value
    matched = exists().where(CustomerIngestAlias.customer_id == Customer.id, condition)
    return not_(matched) if comparison.op == "!=" else matched


def _comparison(comparison: Comparison) -> ColumnElement[bool]:
    name, value = comparison.field, comparison.value
    problem = text_problem(value, ("filter",), MAX_VALUE_LENGTH)
    if problem:
        raise _error(comparison, problem.message)
    if name in STRING_FIELDS:
        return _string(STRING_FIELDS[name], comparison)
    if name in UPPERCASE_FIELDS:
        upper = Comparison(
            name, comparison.op, value.upper(), comparison.quoted, comparison.position
        )
        return _string(UPPERCASE_FIELDS[name], upper)
    if name in TIME_FIELDS:
        return _timestamp(TIME_FIELDS[name], comparison)
    if name == "ingest_aliases":
        return _alias(comparison)
    prefix, _, key = name.partition(".")
    if prefix == "custom_fields" and key and "." not in key:
        return _string(Customer.custom_fields[key].as_string(), comparison)
    known = ", ".join(KNOWN_FIELDS)
    raise _error(comparison, f"unknown field {name[:60]!r}; filterable fields: {known}")


def _compile(node: Node) -> ColumnElement[bool]:
    if isinstance(node, Comparison):
        return _comparison(node)
    if isinstance(node, And):
        return and_(_compile(node.left), _compile(node.right))
    if isinstance(node, Or):
        return or_(_compile(node.left), _compile(node.right))
    if isinstance(node, Not):
        return not_(_compile(node.operand))
    return false()


def compile_filter(text: str) -> ColumnElement[bool] | None:
    """SQL for a filter string; BAD_USER_INPUT naming the position for any mistake."""
    try:
        tree = parse_filter(text)
    except FilterSyntaxError as error:
        raise BadUserInput(
            f"Invalid filter: {error}", argument="filter", position=error.position
        ) from None
    return None if tree is None else _compile(tree)
