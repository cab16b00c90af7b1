"""Projectors: the function that turns one row into its object of the response.

A page of 50 customers with 10 subscriptions and 10 instances each is 550 rows and about
2,100 fields; a Python call per field (or an object per row) is most of what such an answer
costs. A projector is written out once per selection as the dict display a hand-written
endpoint would build,

    def project(m0, r):
        v1 = r[1]
        return {'id': c0(c1, r[0]), 'name': v1 if v1.__class__ is str else c2(v1),
                'subscriptions': m0[r[0]]}

and compiled with `compile`/`exec`: `r` is the row, `mN` maps a parent id to the answer of
its Nth nested connection and `sN` to its rows of the Nth side statement (both bound per
request with `partial`), `cN` are constants: the completion functions, value plans and
the type's name. The text is made only of
response keys (GraphQL names, which the parser allows only as `[_A-Za-z][_0-9A-Za-z]*`,
written with `repr`), column positions and these fixed shapes: no value from a request
ever becomes code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schema.direct.errors import Fallback
from schema.direct.plan import ChildField, CompositeField, Leaf, ObjectPlan, SidePlan


def _null(type_name: str, key: str) -> Any:
    """A non-null field read NULL: the executor answers it (with its error and nulls)."""
    raise Fallback(f"{type_name}.{key} is null")


def projector(plan: ObjectPlan, columns: tuple[str, ...]) -> Callable[..., dict[str, Any]]:
    index = {name: position for position, name in enumerate(columns)}
    constants: dict[str, Any] = {"_null": _null}

    def constant(value: Any) -> str:
        name = f"c{len(constants)}"
        constants[name] = value
        return name

    lines: list[str] = []
    entries: list[str] = []
    for number, item in enumerate(plan.fields):
        key = repr(item.key)
        if isinstance(item, ChildField):
            child = plan.children.index(item)
            entries.append(f"{key}: m{child}[r[{index['id']}]]")
            continue
        if isinstance(item, CompositeField):
            values = ", ".join(f"r[{index[column]}]" for column in item.composite.columns)
            build, project = constant(item.composite.build), constant(item.value.project)
            entries.append(f"{key}: {project}({build}({values}))")
            continue
        if isinstance(item, SidePlan):
            side = item.field.side
            rows = f"s{plan.sides.index(side.name)}.get(r[{index['id']}]"
            rows += ", ())" if side.many else ")"
            entries.append(f"{key}: {constant(item.field.value)}({rows})")
            continue
        if item.kind == "column" and item.completion == "as is" and not item.non_null:
            entries.append(f"{key}: r[{index[item.column or '']}]")  # NULL is null too
            continue
        entries.append(f"{key}: {_value(item, number, index, constant, plan.type_name)}")
        if item.kind == "column":
            lines.append(f"    v{number} = r[{index[item.column or '']}]")
    parameters = ", ".join(
        [
            *(f"m{i}" for i in range(len(plan.children))),
            *(f"s{i}" for i in range(len(plan.sides))),
            "r",
        ]
    )
    source = "\n".join(
        [f"def project({parameters}):", *lines, "    return {" + ", ".join(entries) + "}"]
    )
    namespace = dict(constants)
    # The text is built above from names the GraphQL grammar allows and column positions.
    exec(compile(source, f"<projector of {plan.type_name}>", "exec"), namespace)  # noqa: S102
    found: Callable[..., dict[str, Any]] = namespace["project"]
    return found


def _value(
    leaf: Leaf,
    number: int,
    index: dict[str, int],
    constant: Callable[[Any], str],
    type_name: str,
) -> str:
    if leaf.kind == "typename":
        return constant(type_name)
    if leaf.kind == "id":
        return f"{constant(leaf.function)}({constant(type_name)}, r[{index['id']}])"
    if leaf.kind == "computed":
        return f"{constant(leaf.function)}(r[{index[leaf.column or '']}])"
    value = f"v{number}"
    if leaf.completion == "as is":
        completed = value
    elif leaf.completion == "str":
        completed = f"({value} if {value}.__class__ is str else {constant(leaf.function)}({value}))"
    elif leaf.completion == "bool":
        completed = (
            f"({value} if {value}.__class__ is bool else {constant(leaf.function)}({value}))"
        )
    else:
        completed = f"{constant(leaf.function)}({value})"
    if not leaf.nullable_column:
        return completed
    if leaf.non_null:
        null = f"_null({constant(type_name)}, {constant(leaf.key)})"
        return f"({null} if {value} is None else {completed})"
    return f"(None if {value} is None else {completed})"
