"""schema/execution/variables coerces variables as graphql-core does, value for value.

Every input type of the served schema, bare, non-null and in lists, gets values shaped like
it (with wrong pieces mixed in) and plain JSON; both coercions must give the same values,
down to their Python types, or the same errors.
"""

from __future__ import annotations

from typing import Any

import graphql
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    is_input_type,
    parse,
)
from graphql.execution import values as graphql_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schema import schema
from schema.execution import variables

GRAPHQL = schema._schema
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "String": st.text(max_size=12),
    "ID": st.text(max_size=12) | st.integers(),
    "Int": st.integers(-(2**33), 2**33),
    "Float": st.floats() | st.integers(),
    "Boolean": st.booleans(),
    "DateTime": st.datetimes().map(lambda moment: moment.isoformat() + "Z")
    | st.just("2026-11-23T10:00:00+01:00")
    | st.text(max_size=12),
    "Decimal": st.decimals(allow_nan=False, places=3).map(str) | st.text(max_size=12),
    "JSON": JSON_VALUES,
}
INPUT_TYPES = sorted(
    name
    for name, type_ in GRAPHQL.type_map.items()
    if is_input_type(type_) and not name.startswith("__")
)


def shaped(type_: GraphQLInputType, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of the type, now and then with something else in their place."""
    wrong = JSON_VALUES if depth < 3 else st.none()
    if isinstance(type_, GraphQLNonNull):
        return shaped(type_.of_type, depth) | st.none()
    if isinstance(type_, GraphQLList):
        item = shaped(type_.of_type, depth + 1)
        return st.lists(item, max_size=3) | item | st.none()
    if isinstance(type_, GraphQLInputObjectType):
        if depth >= 3:
            return st.none() | st.just({})
        fields = {name: shaped(field.type, depth + 1) for name, field in type_.fields.items()}
        objects = st.fixed_dictionaries({}, optional=fields)
        extra = st.dictionaries(st.sampled_from(["unknown", *fields]), wrong, max_size=2)
        return objects | st.builds(lambda a, b: {**a, **b}, objects, extra) | wrong
    if isinstance(type_, GraphQLEnumType):
        return st.sampled_from(list(type_.values)) | st.text(max_size=6)
    assert isinstance(type_, GraphQLScalarType)
    return SCALARS.get(type_.name, JSON_VALUES) | wrong


def wrapped(name: str) -> st.SearchStrategy[tuple[str, GraphQLInputType]]:
    named = GRAPHQL.type_map[name]
    assert isinstance(named, (GraphQLInputObjectType, GraphQLEnumType, GraphQLScalarType))
    return st.sampled_from(
        [
            (name, named),
            (f"{name}!", GraphQLNonNull(named)),
            (f"[{name}!]!", GraphQLNonNull(GraphQLList(GraphQLNonNull(named)))),
            (f"[{name}]", GraphQLList(named)),
        ]
    )


def answer(result: Any) -> Any:
    """A comparable form: values with their Python types, or error messages."""
    if isinstance(result, list):
        return ("errors", [error.message for error in result])
    return ("values", repr(result.coerced), repr(result.sources))


@pytest.mark.parametrize("name", INPUT_TYPES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_coercion_matches_graphql_core(name: str, data: st.DataObject) -> None:
    written, type_ = data.draw(wrapped(name))
    operation = parse(f"query($v: {written}, $w: Int) {{ __typename }}").definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    inputs: dict[str, Any] = {}
    if data.draw(st.booleans()):
        inputs["v"] = data.draw(shaped(type_))
    if data.draw(st.booleans()):
        inputs["w"] = data.draw(SCALARS["Int"] | st.text(max_size=3))
    definitions = operation.variable_definitions or ()
    expected = graphql_values.get_variable_values(GRAPHQL, definitions, inputs)
    assert answer(variables.get_variable_values(GRAPHQL, definitions, inputs)) == answer(expected)


def test_values_nested_past_graphql_cores_limit_are_refused_alike() -> None:
    """The depth walk is skipped only for types that can not nest that deep; a recursive
    input type (none is served yet) still gets it."""
    recursive = graphql.build_schema(
        "input Node { and: [Node!], name: String } type Query { nodes(where: Node): Int }"
    )
    node = recursive.type_map["Node"]
    assert isinstance(node, GraphQLInputObjectType)
    assert not variables.shallow(node)
    assert variables.shallow(GraphQLNonNull(GraphQLList(GRAPHQL.type_map["UsageEventInput"])))
    operation = parse("query($v: Node) { nodes(where: $v) }").definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    definitions = operation.variable_definitions or ()
    for depth in (3, 150):
        value: dict[str, Any] = {"name": "leaf"}
        for _ in range(depth):
            value = {"and": [value]}
        expected = graphql_values.get_variable_values(recursive, definitions, {"v": value})
        got = variables.get_variable_values(recursive, definitions, {"v": value})
        assert answer(got) == answer(expected)
        assert answer(got)[0] == ("values" if depth == 3 else "errors")


def test_coercers_are_kept_by_type_shape_not_by_object() -> None:
    """graphql-core builds new `[T!]!` wrappers for every operation it reads: a cache by
    object would grow with every request."""
    operation = parse("query($e: [UsageEventInput!]!, $s: String) { __typename }").definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    definitions = operation.variable_definitions or ()
    variables.get_variable_values(GRAPHQL, definitions, {"e": [], "s": "x"})
    sizes = len(variables._coercers), len(variables._shallow)
    for _ in range(20):
        variables.get_variable_values(GRAPHQL, definitions, {"e": [], "s": "x"})
    assert (len(variables._coercers), len(variables._shallow)) == sizes


def test_the_executor_coerces_with_it() -> None:
    """Building the schema installs it in graphql-core's executor."""
    from graphql.execution import executor

    assert executor.get_variable_values is variables.get_variable_values  # type: ignore[attr-defined]
