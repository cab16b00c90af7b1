"""Variable values coerced by functions built once per input type.

graphql-core coerces a variable's value with one generic recursive function that asks,
at every value, what kind of type it is looking at. An `ingestUsage` call carries 1,000
events of five fields, and that walk, with a second walk that checks the nesting depth,
was a fifth of the call's CPU. Here each input type gets a function, built on first use
and kept, that does the same steps with the type's questions already answered, and the
depth walk runs only for types that can nest deeper than graphql-core allows (recursive
ones).

The result is the same by construction where the fast path answers: the same values, in
the same dicts and lists. Whenever it does not (an omitted variable, a default, a value
that does not coerce), the whole call goes to graphql-core's `get_variable_values`, so
errors and their messages stay exactly graphql-core's. `tests/test_variable_coercion.py`
compares both on generated values for every input type of the schema.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    GraphQLString,
    Undefined,
    VariableDefinitionNode,
)
from graphql.execution import executor as graphql_executor
from graphql.execution import values as graphql_values
from graphql.execution.get_variable_signature import get_variable_signature
from graphql.execution.values import VariableValues, VariableValueSource
from graphql.language.parser import MAX_NESTING_DEPTH
from graphql.pyutils import is_iterable
from graphql.type.definition import is_required_input_field
from graphql.utilities.coerce_input_value import coerce_default_value

Coercer = Callable[[Any], Any]  # a value → its coerced value, or Undefined when invalid

_graphql_get_variable_values = graphql_values.get_variable_values
# By shape: graphql-core makes new wrapper objects (`[T!]!`) for every operation it reads,
# so the key is the wrapping marks and the named type, which lives as long as its schema.
TypeKey = tuple[tuple[str, ...], Any]
_coercers: dict[TypeKey, Coercer] = {}
_shallow: dict[TypeKey, bool] = {}


def get_variable_values(
    schema: GraphQLSchema,
    var_def_nodes: Collection[VariableDefinitionNode],
    inputs: dict[str, Any],
    max_errors: int | None = None,
    hide_suggestions: bool = False,
) -> list[GraphQLError] | VariableValues:
    """graphql-core's `get_variable_values`, answered by the types' coercers when every
    variable is given and coerces; otherwise graphql-core's own answer."""
    return coercion(schema, var_def_nodes, max_errors, hide_suggestions)(inputs)


def coercion(
    schema: GraphQLSchema,
    var_def_nodes: Collection[VariableDefinitionNode],
    max_errors: int | None = None,
    hide_suggestions: bool = False,
) -> Callable[[dict[str, Any]], list[GraphQLError] | VariableValues]:
    """`get_variable_values` of one operation's variables, their signatures and coercers
    looked up once (the direct lane keeps it with the operation). A variable that is
    omitted (a default applies), null or does not coerce hands the whole call to
    graphql-core, so values, defaults and errors stay graphql-core's."""

    def graphql_core(inputs: dict[str, Any]) -> list[GraphQLError] | VariableValues:
        return _graphql_get_variable_values(
            schema, var_def_nodes, inputs, max_errors=max_errors, hide_suggestions=hide_suggestions
        )

    steps = []
    for node in var_def_nodes:
        signature = get_variable_signature(schema, node)
        if isinstance(signature, GraphQLError):
            return graphql_core
        steps.append((signature, coercer(signature.type), shallow(signature.type)))

    def coerce(inputs: dict[str, Any]) -> list[GraphQLError] | VariableValues:
        sources: dict[str, VariableValueSource] = {}
        coerced: dict[str, Any] = {}
        for signature, coerce_value, is_shallow in steps:
            value = inputs.get(signature.name)
            if value is None or value is Undefined:
                return graphql_core(inputs)
            if not is_shallow and graphql_values.input_is_nested_too_deeply(value, signature.type):
                return graphql_core(inputs)
            result = coerce_value(value)
            if result is Undefined:
                return graphql_core(inputs)
            sources[signature.name] = VariableValueSource(signature, value)
            coerced[signature.name] = result
        return VariableValues(sources, coerced)

    return coerce


def install() -> None:
    """Make graphql-core's executor coerce variables here (it looks the function up in
    its module on every operation)."""
    graphql_executor.get_variable_values = get_variable_values  # type: ignore[attr-defined]


def type_key(type_: GraphQLInputType) -> TypeKey:
    marks = []
    while isinstance(type_, (GraphQLNonNull, GraphQLList)):
        marks.append("!" if isinstance(type_, GraphQLNonNull) else "[")
        type_ = type_.of_type
    return tuple(marks), type_


def coercer(type_: GraphQLInputType) -> Coercer:
    """The type's coercer, built on first use."""
    key = type_key(type_)
    known = _coercers.get(key)
    if known is None:
        known = _coercers[key] = _build(type_)
    return known


def shallow(type_: GraphQLInputType) -> bool:
    """Whether no value of the type can nest deeper than graphql-core's limit, so the depth
    walk can only say no."""
    key = type_key(type_)
    known = _shallow.get(key)
    if known is None:
        levels = _levels(type_, frozenset())
        known = _shallow[key] = levels is not None and levels <= MAX_NESTING_DEPTH
    return known


def _levels(type_: Any, seen: frozenset[str]) -> int | None:
    """How deep the depth walk can go in a value of the type; None when it is unbounded."""
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList):
        inner = _levels(type_.of_type, seen)
        return None if inner is None else inner + 1
    if isinstance(type_, GraphQLInputObjectType):
        if type_.name in seen:
            return None
        deepest = 0
        for field in type_.fields.values():
            inner = _levels(field.type, seen | {type_.name})
            if inner is None:
                return None
            deepest = max(deepest, inner + 1)
        return deepest
    return 0


def _build(type_: GraphQLInputType) -> Coercer:
    if isinstance(type_, GraphQLNonNull):
        inner = type_.of_type
        if isinstance(inner, GraphQLLeafType):
            return _leaf(inner, required=True)
        return _non_null(inner)
    if isinstance(type_, GraphQLList):
        return _list(type_.of_type)
    if isinstance(type_, GraphQLInputObjectType):
        return _input_object(type_)
    assert isinstance(type_, GraphQLLeafType)
    return _leaf(type_, required=False)


def _non_null(inner_type: GraphQLInputType) -> Coercer:
    inner: list[Coercer] = []  # built on first use: input types may be recursive

    def coerce(value: Any) -> Any:
        if value is None or value is Undefined:
            return Undefined
        if not inner:
            inner.append(coercer(inner_type))
        return inner[0](value)

    return coerce


def _list(item_type: GraphQLInputType) -> Coercer:
    items: list[Coercer] = []

    def coerce(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        if not items:
            items.append(coercer(item_type))
        item = items[0]
        if not (type(value) is list or is_iterable(value)):  # a single value: a list of one
            single = item(value)
            return Undefined if single is Undefined else [single]
        coerced: list[Any] = []
        append = coerced.append
        for element in value:
            result = item(element)
            if result is Undefined:
                return Undefined
            append(result)
        return coerced

    return coerce


def _input_object(type_: GraphQLInputObjectType) -> Coercer:
    plan: list[tuple[tuple[str, str, GraphQLInputField, bool, Coercer], ...]] = []

    def fields() -> tuple[tuple[str, str, GraphQLInputField, bool, Coercer], ...]:
        if not plan:
            plan.append(
                tuple(
                    (
                        name,
                        field.out_name or name,
                        field,
                        is_required_input_field(field),
                        coercer(field.type),
                    )
                    for name, field in type_.fields.items()
                )
            )
        return plan[0]

    defined = type_.fields
    out_type = type_.out_type
    one_of = type_.is_one_of

    def coerce(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        if not isinstance(value, dict):
            return Undefined
        if not value.keys() <= defined.keys() and any(
            item is not Undefined and name not in defined for name, item in value.items()
        ):
            return Undefined  # a field the type does not have
        coerced: dict[str, Any] = {}
        for name, out_name, field, required, coerce_field in plan[0] if plan else fields():
            item = value.get(name, Undefined)
            if item is Undefined:
                if required:
                    return Undefined
                default = coerce_default_value(field)
                if default is not Undefined:
                    coerced[out_name] = default
                continue
            result = coerce_field(item)
            if result is Undefined:
                return Undefined
            coerced[out_name] = result
        if one_of:
            given = sum(item is not Undefined for item in value.values())
            if given != 1 or len(coerced) != 1 or next(iter(coerced.values())) is None:
                return Undefined
        return out_type(coerced)

    return coerce


def _leaf(type_: GraphQLLeafType, required: bool) -> Coercer:
    """A scalar or enum, non-null when `required`. A string for `String` is itself, and is
    answered without a call."""
    parse = type_.coerce_input_value
    missing = Undefined if required else None
    strings = type_ is GraphQLString

    def coerce(value: Any) -> Any:
        if value is None or value is Undefined:
            return missing
        if strings and type(value) is str:
            return value
        try:
            return parse(value)
        except Exception:  # graphql-core's rule: any failure means invalid
            return Undefined

    return coerce
