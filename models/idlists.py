"""A list of ids bound as one parameter, so a statement's SQL does not depend on its length.

`column IN (:a, :b, ...)` is new SQL for every length of the list: another compilation, and on
PostgreSQL another prepared statement. `in_ids(column, name)` is `column = ANY(:name)` with a
BIGINT array on PostgreSQL and `column IN (SELECT value FROM json_each(:name))` with a JSON
array on SQLite: one statement text whatever the list holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import BigInteger, Boolean, ColumnElement, Dialect, Text, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator, TypeEngine


class IdList(TypeDecorator[Sequence[int]]):
    """A list of integer keys: a BIGINT[] on PostgreSQL, JSON text on SQLite."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(BigInteger()))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Sequence[int] | None, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return orjson.dumps(list(value)).decode()


class InIds(ColumnElement[bool]):
    """`column` is one of the ids bound to `parameter`."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [  # noqa: RUF012 - SQLAlchemy reads this class attribute
        ("column", InternalTraversal.dp_clauseelement),
        ("parameter", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], parameter: ColumnElement[Any]) -> None:
        self.column, self.parameter = column, parameter


def in_ids(column: Any, name: str) -> InIds:
    return InIds(column, bindparam(name, type_=IdList()))


@compiles(InIds, "postgresql")
def _any(element: InIds, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"{column} = ANY({compiler.process(element.parameter, **kw)})"


@compiles(InIds)
def _json_each(element: InIds, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    parameter = compiler.process(element.parameter, **kw)
    # Both parts are compiled SQL (a column, a bound parameter), never values.
    return f"{column} IN (SELECT value FROM json_each({parameter}))"  # noqa: S608
