"""A validated query compiled once into a plan: what to call for each field, and how to
complete what it returns.

The plan is built from the operation's AST and the schema, per operation and per value of
the variables that `@skip`/`@include` read, and cached. Fields are collected the way the
GraphQL spec's CollectFields does (fragments, inline fragments with type conditions,
directives, same response key merged), so the plan is a tree of `Field`s per object type.

What the plan does not cover raises `Unsupported` while it is built, and the request runs
through Strawberry's executor instead: introspection, federation's `_entities`/`_service`,
fields with Strawberry field extensions or permission classes, and directives other than
`@skip` and `@include`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, cast

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)
from graphql.pyutils import Undefined, inspect
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF
UNSUPPORTED_ROOT_FIELDS = frozenset({"_entities", "_service"})
CONDITIONS = frozenset({"skip", "include"})


class Unsupported(Exception):
    """This operation is not compiled; Strawberry's executor runs it."""


# Completion shapes, as tuples for speed: (kind, non_null, payload).
LEAF, LIST, OBJECT, ABSTRACT = 0, 1, 2, 3
Shape = tuple[int, bool, Any]


@dataclass(slots=True, eq=False)
class Field:
    """One response key of one object type's selection."""

    key: str
    name: str
    parent: str
    nodes: list[FieldNode]
    shape: Shape
    definition: GraphQLField | None = None  # None for __typename
    strawberry: StrawberryField | None = None
    attribute: str | None = None  # a plain attribute: getattr(source, attribute)
    resolver: Callable[..., Any] | None = None
    takes_self: bool = False
    source_names: tuple[str, ...] = ()  # keyword parameters given the source (root/parent)
    info_name: str | None = None
    is_async: bool = False  # an async resolver: its answer is parked without a check
    has_arguments: bool = False
    # A plain attribute of leaf type: answered inline by `Run.object` with this serializer.
    leaf: Callable[[Any], Any] | None = None


@dataclass(slots=True)
class Plan:
    root: str
    fields: list[Field]


def condition_variables(
    operation: OperationDefinitionNode, fragments: dict[str, Any]
) -> tuple[str, ...]:
    """The variables that @skip/@include read anywhere in the operation: part of the plan's key."""
    names: list[str] = []
    seen_fragments: set[str] = set()
    stack: list[SelectionSetNode | None] = [operation.selection_set]
    while stack:
        selection_set = stack.pop()
        if selection_set is None:
            continue
        for selection in selection_set.selections:
            for directive in selection.directives or ():
                if directive.name.value in CONDITIONS:
                    for argument in directive.arguments or ():
                        if isinstance(argument.value, VariableNode):
                            names.append(argument.value.name.value)
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen_fragments and name in fragments:
                    seen_fragments.add(name)
                    stack.append(fragments[name].selection_set)
            else:
                stack.append(getattr(selection, "selection_set", None))
    return tuple(sorted(set(names)))


class Planner:
    """Builds the plan of one operation: fragments expanded, same response keys merged,
    `@skip`/`@include` evaluated with `variables` (the plan's cache key holds their values)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.classes = _classes(schema)

    def plan(self, operation: OperationDefinitionNode) -> Plan:
        if operation.operation.value != "query":
            raise Unsupported("only queries are compiled")
        root = self.schema.query_type
        assert root is not None
        fields = self.selection(root, [operation.selection_set], is_root=True)
        return Plan(root.name, fields)

    # ----------------------------------------------------------------- collection

    def _included(self, node: Any) -> bool:
        for directive in node.directives or ():
            name = directive.name.value
            if name not in CONDITIONS:
                raise Unsupported(f"directive @{name}")
            argument = directive.arguments[0].value
            if isinstance(argument, VariableNode):
                value = bool(self.variables.get(argument.name.value))
            else:
                value = bool(argument.value)
            if (name == "skip") == value:
                return False
        return True

    def _applies(self, condition: Any, runtime: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        type_ = self.schema.get_type(condition.name.value)
        if type_ is runtime:
            return True
        if isinstance(type_, GraphQLInterfaceType | GraphQLUnionType):
            return self.schema.is_sub_type(type_, runtime)
        return False

    def collect(
        self,
        runtime: GraphQLObjectType,
        selection_sets: Sequence[SelectionSetNode],
    ) -> OrderedDict[str, list[FieldNode]]:
        grouped: OrderedDict[str, list[FieldNode]] = OrderedDict()
        visited: set[str] = set()  # as the spec's CollectFields: a fragment once per selection
        for selection_set in selection_sets:
            self._collect(runtime, selection_set, grouped, visited)
        return grouped

    def _collect(
        self,
        runtime: GraphQLObjectType,
        selection_set: SelectionSetNode,
        grouped: OrderedDict[str, list[FieldNode]],
        visited: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                grouped.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if self._applies(selection.type_condition, runtime):
                    self._collect(runtime, selection.selection_set, grouped, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if name in visited or fragment is None:
                    continue
                visited.add(name)
                if self._applies(fragment.type_condition, runtime):
                    self._collect(runtime, fragment.selection_set, grouped, visited)

    # ----------------------------------------------------------------- fields

    def selection(
        self,
        runtime: GraphQLObjectType,
        selection_sets: Sequence[SelectionSetNode],
        is_root: bool = False,
    ) -> list[Field]:
        fields: list[Field] = []
        for key, nodes in self.collect(runtime, selection_sets).items():
            name = nodes[0].name.value
            if name == "__typename":
                fields.append(Field(key, name, runtime.name, nodes, (LEAF, True, None)))
                continue
            if name.startswith("__") or (is_root and name in UNSUPPORTED_ROOT_FIELDS):
                raise Unsupported(f"field {name}")
            definition = runtime.fields.get(name)
            if definition is None:
                raise Unsupported(f"unknown field {runtime.name}.{name}")
            fields.append(self.field(runtime, key, nodes, definition))
        return fields

    def field(
        self,
        runtime: GraphQLObjectType,
        key: str,
        nodes: list[FieldNode],
        definition: GraphQLField,
    ) -> Field:
        strawberry_field = (definition.extensions or {}).get(DEFINITION)
        if not isinstance(strawberry_field, StrawberryField):
            raise Unsupported(f"{runtime.name}.{key} has no Strawberry definition")
        if strawberry_field.extensions or strawberry_field.permission_classes:
            raise Unsupported(f"{runtime.name}.{key} has field extensions")
        sub_selections = [n.selection_set for n in nodes if n.selection_set is not None]
        plan = Field(
            key=key,
            name=nodes[0].name.value,
            parent=runtime.name,
            nodes=nodes,
            shape=self.shape(definition.type, sub_selections),
            definition=definition,
            strawberry=strawberry_field,
            has_arguments=bool(definition.args or nodes[0].arguments),
        )
        resolver = strawberry_field.base_resolver
        if resolver is None:
            plan.attribute = strawberry_field.python_name
            if plan.shape[0] == LEAF:
                plan.leaf = plan.shape[2]
            return plan
        plan.resolver = cast(Callable[..., Any], resolver.wrapped_func)
        plan.takes_self = resolver.self_parameter is not None
        plan.source_names = tuple(
            p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p is not None
        )
        plan.info_name = resolver.info_parameter.name if resolver.info_parameter else None
        plan.is_async = resolver.is_async
        return plan

    def shape(self, type_: GraphQLOutputType, selections: list[SelectionSetNode]) -> Shape:
        non_null = isinstance(type_, GraphQLNonNull)
        if isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        if isinstance(type_, GraphQLList):
            return (LIST, non_null, self.shape(type_.of_type, selections))
        if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
            return (LEAF, non_null, serializer(type_))
        if isinstance(type_, GraphQLObjectType):
            return (OBJECT, non_null, (type_.name, self.selection(type_, selections)))
        if isinstance(type_, GraphQLInterfaceType | GraphQLUnionType):
            by_class: dict[type, tuple[str, list[Field]]] = {}
            for possible in self.schema.get_possible_types(type_):
                origin = self.classes.get(possible.name)
                if origin is None:
                    raise Unsupported(f"type {possible.name} has no Python class")
                by_class[origin] = (possible.name, self.selection(possible, selections))
            return (ABSTRACT, non_null, (type_.name, by_class))
        raise Unsupported(f"output type {type_}")


def serializer(type_: GraphQLScalarType | GraphQLEnumType) -> Callable[[Any], Any]:
    """graphql-core's complete_leaf_value for one type, with its answer for the values that
    need no conversion (a str for String and ID, a bool, a 32-bit int, an enum member)."""
    coerce = type_.coerce_output_value

    def checked(value: Any) -> Any:
        coerced = coerce(value)
        if coerced is Undefined or coerced is None:
            raise TypeError(
                f"Expected `{inspect(type_)}.coerce_output_value({inspect(value)})` to return"
                f" non-nullable value, returned: {inspect(coerced)}"
            )
        return coerced

    if isinstance(type_, GraphQLEnumType):
        by_value = {value.value: name for name, value in type_.values.items()}
        members = getattr(type_, "wrapped_cls", None) or ()
        names = {m: by_value[m.value] for m in members if m.value in by_value}

        def enum(value: Any) -> Any:
            name = names.get(value) if isinstance(value, Enum) else None
            return checked(value) if name is None else name

        return enum
    kind = type_.name
    if kind in ("String", "ID"):
        return lambda value: value if type(value) is str else checked(value)
    if kind == "Boolean":
        return lambda value: value if type(value) is bool else checked(value)
    if kind == "Int":
        return lambda value: (
            value if type(value) is int and -(2**31) <= value < 2**31 else checked(value)
        )
    return checked


def _classes(schema: GraphQLSchema) -> dict[str, type]:
    """Object type name → the Python class Strawberry built it from."""
    found: dict[str, type] = {}
    for name, type_ in schema.type_map.items():
        if isinstance(type_, GraphQLObjectType):
            definition = (type_.extensions or {}).get(DEFINITION)
            origin = getattr(definition, "origin", None)
            if isinstance(origin, type):
                found[name] = origin
    return found
