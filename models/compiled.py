"""SQLAlchemy Core statements compiled once for the database driver itself.

A direct read (models/reads.py) runs on the driver, without SQLAlchemy's execution
machinery: the statement is compiled once per statement object and dialect, with the
tenancy guard's criterion (`scoped`), into its SQL text, how its positional arguments are
made from named values (bind processors included) and the result processors SQLAlchemy
would apply to its columns.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Dialect, Executable

from models.tenancy import scoped

Row = Sequence[Any]
COMPILED_READS_KEPT = 2048

Slot = tuple[str | None, Any, Callable[[Any], Any] | None]


@dataclass(frozen=True, slots=True)
class CompiledRead:
    """One statement compiled for one dialect."""

    sql: str
    # Per positional argument: (name of a value given at execution, None, its bind
    # processor), or (None, the processed constant the statement carries, None).
    slots: tuple[Slot, ...]
    columns: tuple[str, ...]
    # Result processors per column; None when the driver's values are final (asyncpg).
    processors: tuple[Callable[[Any], Any] | None, ...] | None

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        found = []
        for name, constant, process in self.slots:
            if name is None:
                found.append(constant)
                continue
            value = values[name]
            found.append(value if process is None or value is None else process(value))
        return found

    def rows(self, raw: Sequence[Row]) -> Sequence[Row]:
        processors = self.processors
        if processors is None:
            return raw
        return [
            tuple(
                v if p is None or v is None else p(v) for p, v in zip(processors, row, strict=True)
            )
            for row in raw
        ]


_compiled: dict[tuple[int, str, bool], tuple[Executable, CompiledRead]] = {}


@cache
def row_type(columns: tuple[str, ...]) -> Any:
    """A named tuple class for rows of these columns: `row_type(read.columns)._make(row)`
    gives a driver's row the attributes a cursor's sort key reads."""
    return namedtuple("Row", columns, rename=True)


def compile_read(statement: Executable, dialect: Dialect, guarded: bool = True) -> CompiledRead:
    """`statement`, with the tenancy guard's criterion unless `guarded` is False, compiled
    for `dialect` once per statement object (callers keep the statements they reuse).

    Binds without a value are given at each execution; those with one (a LIMIT, the items
    of a literal IN list) are constants of the compiled statement. `_result_columns` and
    `_post_compile_expanded_state` are SQLAlchemy's own records of the compilation (the
    locked version's; tests/test_direct_reads.py covers both)."""
    key = (id(statement), dialect.name, guarded)
    known = _compiled.get(key)
    if known is not None and known[0] is statement:
        return known[1]
    target: Any = scoped(statement) if guarded else statement
    compiled = target.compile(dialect=dialect)
    # Binds without a value are the execution's (the guard's tenant among them).
    runtime = {
        name
        for name in compiled.positiontup or ()
        if compiled.binds[name].value is None and compiled.binds[name].callable is None
    }
    values: dict[str, Any] = {}
    expanded: dict[str, Any] = {}
    if "POSTCOMPILE" in compiled.string:
        # A literal IN list: rendered one parameter per item, the execution's binds left
        # open (SQLAlchemy's own expansion, as it does at execution time).
        target = target.params(dict.fromkeys(runtime))
        compiled = target.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        state = compiled._post_compile_expanded_state
        values, expanded = state.parameters, state.processors
    slots: list[Slot] = []
    for name in compiled.positiontup or ():
        bind = compiled.binds.get(name)
        if bind is None:  # one item of an expanded list
            process = expanded.get(name)
            value = values[name]
        else:
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            value = bind.value
        if name in runtime:
            slots.append((name, None, process))
        else:
            slots.append((None, process(value) if process and value is not None else value, None))
    # SQLAlchemy's own record of the result: (name, key, objects, type) per column.
    columns = compiled._result_columns
    processors = tuple(
        column[3].dialect_impl(dialect).result_processor(dialect, None) for column in columns
    )
    read = CompiledRead(
        sql=str(compiled),
        slots=tuple(slots),
        columns=tuple(column[0] for column in columns),
        processors=processors if any(p is not None for p in processors) else None,
    )
    if len(_compiled) >= COMPILED_READS_KEPT:
        _compiled.clear()
    _compiled[key] = (statement, read)
    return read
