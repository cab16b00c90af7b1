"""A validated query over customer tables compiled into a direct plan: which statements to
run, which columns each selects, and how each row becomes its object in the response.

Fields are collected as the spec's CollectFields does (fragments, type conditions,
`@skip`/`@include`, same response keys merged), by schema/execution's Planner. A root field
is `customers`, `customer` or `__typename`; every object below is a row of a table
(schema/direct/tables.py) whose fields are its columns or its nested connections. Anything
else raises `Unsupported` while the plan is built, and the query runs on the executor.

A statement selects the columns every selection over its rows reads, plus the primary key
and the sort key: one set per kind of rows in the plan (the `customers` pages, customers by
id, each kind of child), so that equal arguments still make one statement, as the loaders'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    EnumValueNode,
    FieldNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    ListValueNode,
    ObjectValueNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
)
from graphql.execution.values import VariableValues, get_argument_values
from graphql.pyutils import Undefined
from strawberry.types.field import StrawberryField

from domain.ids import encode_global_id
from resolvers.customers import SORT_COLUMNS, customer_sort_key
from schema.direct.errors import Fallback
from schema.direct.tables import TABLES, VALUES, Child, Composite, SideField, Table
from schema.execution.plan import DEFINITION, Planner, Unsupported, serializer
from schema.scalars import serialize_datetime

READ_CUSTOMERS = "read:customers"
# Rows read for a root `customers` page and for root `customer(...)` lookups.
CUSTOMER_PAGES, CUSTOMERS_BY_ID = "customers", "customer"


# ----------------------------------------------------------------- the plan's parts


Convert = Callable[[Any, str, Any], Any]  # (value, GraphQL name, Strawberry type) → Python


@dataclass(eq=False, slots=True)
class Arguments:
    """A field's arguments as Strawberry gives them to its resolver (`convert_arguments`):
    converted once when they are literals, per request otherwise, each argument by a
    function chosen once (values of scalar types are passed as they are)."""

    definition: GraphQLField
    node: FieldNode
    converters: list[tuple[str, str, Callable[[Any], Any] | None]]
    constant: dict[str, Any] | None = None
    # When each argument is a literal or a variable: the literals' values (converted once,
    # with the defaults graphql-core gives absent arguments), and per variable its name,
    # the argument's Python name, converter and non-null-ness.
    literals: dict[str, Any] | None = None
    variables: tuple[tuple[str, str, Callable[[Any], Any] | None, bool], ...] = ()

    def values(self, variables: VariableValues | None) -> dict[str, Any]:
        if self.constant is not None:
            return self.constant
        if self.literals is not None and variables is not None:
            coerced = variables.coerced
            found = dict(self.literals)
            for variable, python_name, convert, non_null in self.variables:
                value = coerced.get(variable, Undefined)
                if value is Undefined or (value is None and non_null):
                    return self.coerce(variables)  # graphql-core's defaults and errors
                found[python_name] = value if convert is None else convert(value)
            return found
        return self.coerce(variables)

    def coerce(self, variables: VariableValues | None) -> dict[str, Any]:
        raw = get_argument_values(self.definition, self.node, variables)
        return {
            python_name: raw[name] if convert is None else convert(raw[name])
            for name, python_name, convert in self.converters
            if name in raw
        }


@dataclass(eq=False, slots=True)
class Leaf:
    """A scalar or enum field of a row: `kind` is "id", "computed", "column" or "typename"."""

    key: str
    kind: str
    column: str | None = None
    function: Callable[..., Any] | None = None
    # How `function` completes a value: "call" it, "as is" (text columns of String fields),
    # or call it unless the value is a "str" or a "bool" already.
    completion: str = "call"
    non_null: bool = False
    nullable_column: bool = False


@dataclass(eq=False, slots=True)
class ValuePlan:
    """A selection over a plain value (tables.VALUES): a dict by GraphQL field name, a list
    of them (`many`), or None; `fields` are (response key, field name, its own plan)."""

    type_name: str
    fields: list[tuple[str, str, ValuePlan | None]]
    non_null: bool
    many: bool

    def project(self, value: Any) -> Any:
        if value is None:
            if self.non_null:
                raise Fallback(f"a null {self.type_name}")
            return None
        if self.many:
            return [self.one(item) for item in value]
        return self.one(value)

    def one(self, value: dict[str, Any]) -> dict[str, Any]:
        return {
            key: self.type_name
            if name == "__typename"
            else (value[name] if plan is None else plan.project(value[name]))
            for key, name, plan in self.fields
        }


@dataclass(eq=False, slots=True)
class CompositeField:
    key: str
    composite: Composite
    value: ValuePlan


@dataclass(eq=False, slots=True)
class SidePlan:
    key: str
    field: SideField


@dataclass(eq=False, slots=True)
class ObjectPlan:
    """One selection over the rows of one source: its fields in response order."""

    type_name: str
    table: Table
    source: str
    fields: list[Leaf | ChildField | CompositeField | SidePlan] = field(default_factory=list)
    children: list[ChildField] = field(default_factory=list)
    sides: list[str] = field(default_factory=list)  # the names of the sides its fields read
    project: Callable[..., dict[str, Any]] | None = None  # made by schema/direct/project.py

    def needs(self) -> set[str]:
        found: set[str] = set()
        for item in self.fields:
            if isinstance(item, Leaf) and item.column:
                found.add(item.column)
            elif isinstance(item, CompositeField):
                found.update(item.composite.columns)
        return found


@dataclass(eq=False, slots=True)
class ConnectionPlan:
    """A connection's selection: `parts` in response order, each (key, kind, payload) with
    kind "nodes" (an ObjectPlan), "edges" (a list of edge parts), "pageInfo" (its type's
    name and (key, field name) pairs), "totalCount" or "__typename" (the type's name)."""

    type_name: str
    parts: list[tuple[str, str, Any]] = field(default_factory=list)
    nodes: list[ObjectPlan] = field(default_factory=list)
    count: bool = False
    cursors: bool = False  # an edge's cursor, startCursor or endCursor is asked for
    nodes_only: str | None = None  # the key, when `nodes` is the only part

    def finish(self) -> None:
        if len(self.parts) == 1 and self.parts[0][1] == "nodes":
            self.nodes_only = self.parts[0][0]


@dataclass(eq=False, slots=True)
class ChildField:
    key: str
    child: Child
    source: str  # the rows of every field of this kind of child
    arguments: Arguments
    connection: ConnectionPlan


@dataclass(eq=False, slots=True)
class RootField:
    """`kind` is "customers" (a connection), "customer" (a row or null), "viewer" (its
    `value` plan over the caller's key) or "__typename"."""

    key: str
    kind: str
    arguments: Arguments | None = None
    connection: ConnectionPlan | None = None
    node: ObjectPlan | None = None
    value: ValuePlan | None = None


@dataclass(eq=False, slots=True)
class DirectPlan:
    roots: list[RootField]
    scopes: frozenset[str]
    # The columns each source's statements select, in the table's column order.
    columns: dict[str, tuple[str, ...]]
    # What runs work out once and keep (schema/direct/run.py): statements of constant
    # arguments, converted constant arguments. A plan belongs to one lane: one dialect,
    # one secret.
    memo: dict[Any, Any] = field(default_factory=dict)


# ----------------------------------------------------------------- building


class DirectPlanner:
    """Builds the direct plan of one operation (the executor's Planner collects the fields)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, Any],
        variables: dict[str, Any],
        convert: Callable[[Any, str], Callable[[Any], Any] | None],
        names: Any,
    ) -> None:
        self.schema = schema
        self.collector = Planner(schema, fragments, variables)
        self.convert, self.names = convert, names
        self.sources: dict[str, set[str]] = {}
        self.tables: dict[str, Table] = {}
        self.objects: list[ObjectPlan] = []  # every selection over rows, for their projectors

    def plan(self, selection_set: SelectionSetNode) -> DirectPlan:
        root = self.schema.query_type
        assert root is not None
        roots: list[RootField] = []
        for key, nodes in self.collector.collect(root, [selection_set]).items():
            name = nodes[0].name.value
            if name == "__typename":
                roots.append(RootField(key, "__typename"))
            elif name == "customers":
                arguments = self.arguments(root, nodes[0])
                connection = self.connection(root.fields[name], nodes, CUSTOMER_PAGES)
                sorted_by = _customer_sort_fields(nodes[0]) if connection.cursors else ()
                self.register(CUSTOMER_PAGES, TABLES["Customer"], set(sorted_by))
                roots.append(RootField(key, name, arguments, connection=connection))
            elif name == "customer":
                arguments = self.arguments(root, nodes[0])
                node = self.object(root.fields[name], nodes, CUSTOMERS_BY_ID)
                roots.append(RootField(key, name, arguments, node=node))
            elif name == "viewer":
                value = self.value(root.fields[name].type, nodes)
                roots.append(RootField(key, name, value=value))
            else:
                raise Unsupported(f"root field {name}")
        columns = {source: self._ordered(source, needed) for source, needed in self.sources.items()}
        reads = any(root.kind in ("customers", "customer") for root in roots)
        return DirectPlan(roots, frozenset({READ_CUSTOMERS} if reads else ()), columns)

    def value(self, type_: Any, nodes: list[FieldNode]) -> ValuePlan:
        """The plan of a selection over a plain value of `type_` (tables.VALUES)."""
        non_null = isinstance(type_, GraphQLNonNull)
        inner = type_.of_type if non_null else type_
        many = isinstance(inner, GraphQLList)
        named = _object_type(type_)
        allowed = VALUES.get(named.name)
        if allowed is None:
            raise Unsupported(f"type {named.name}")
        fields: list[tuple[str, str, ValuePlan | None]] = []
        for key, field_nodes in self.collector.collect(named, _selections(nodes)).items():
            name = field_nodes[0].name.value
            if name != "__typename" and name not in allowed:
                raise Unsupported(f"{named.name}.{name}")
            held = allowed.get(name)
            plan = None if held is None else self.value(named.fields[name].type, field_nodes)
            fields.append((key, name, plan))
        return ValuePlan(named.name, fields, non_null, many)

    def _ordered(self, source: str, needed: set[str]) -> tuple[str, ...]:
        order = self.tables[source].column_order
        return tuple(sorted(needed, key=order.__getitem__))

    def arguments(self, parent: GraphQLObjectType, node: FieldNode) -> Arguments:
        definition = parent.fields[node.name.value]
        strawberry_field = _strawberry(definition, parent.name)
        found = Arguments(definition, node, self.converters(strawberry_field))
        given = node.arguments or ()
        if not any(_uses_variables(argument.value) for argument in given):
            found.constant = found.values(None)
        elif all(isinstance(a.value, VariableNode) or not _uses_variables(a.value) for a in given):
            literal_node = FieldNode(
                name=node.name,
                arguments=tuple(a for a in given if not isinstance(a.value, VariableNode)),
            )
            found.literals = Arguments(definition, literal_node, found.converters).values(None)
            python_names = {name: (python, convert) for name, python, convert in found.converters}
            found.variables = tuple(
                (
                    a.value.name.value,
                    *python_names[a.name.value],
                    isinstance(definition.args[a.name.value].type, GraphQLNonNull),
                )
                for a in given
                if isinstance(a.value, VariableNode)
            )
        return found

    def converters(
        self, definition: StrawberryField
    ) -> list[tuple[str, str, Callable[[Any], Any] | None]]:
        found: list[tuple[str, str, Callable[[Any], Any] | None]] = []
        for argument in definition.arguments:
            name = self.names.from_argument(argument)
            assert argument.python_name is not None
            found.append((name, argument.python_name, self.convert(argument.type, name)))
        return found

    def connection(
        self, definition: GraphQLField, nodes: list[FieldNode], source: str
    ) -> ConnectionPlan:
        type_ = _object_type(definition.type)
        plan = ConnectionPlan(type_.name)
        for key, parts in self.collector.collect(type_, _selections(nodes)).items():
            name = parts[0].name.value
            if name == "__typename":
                plan.parts.append((key, name, type_.name))
            elif name == "nodes":
                node = self.object(type_.fields[name], parts, source)
                plan.nodes.append(node)
                plan.parts.append((key, name, node))
            elif name == "edges":
                plan.parts.append((key, name, self.edges(type_.fields[name], parts, source, plan)))
            elif name == "pageInfo":
                info = _object_type(type_.fields[name].type)
                found = self.collector.collect(info, _selections(parts))
                fields = [(k, p[0].name.value) for k, p in found.items()]
                plan.cursors |= any(f in ("startCursor", "endCursor") for _, f in fields)
                plan.parts.append((key, name, (info.name, fields)))
            elif name == "totalCount":
                plan.count = True
                plan.parts.append((key, name, None))
            else:
                raise Unsupported(f"{type_.name}.{name}")
        plan.finish()
        return plan

    def edges(
        self, definition: GraphQLField, nodes: list[FieldNode], source: str, plan: ConnectionPlan
    ) -> list[tuple[str, str, Any]]:
        type_ = _object_type(definition.type)
        parts: list[tuple[str, str, Any]] = []
        for key, edge_nodes in self.collector.collect(type_, _selections(nodes)).items():
            name = edge_nodes[0].name.value
            if name == "node":
                node = self.object(type_.fields[name], edge_nodes, source)
                plan.nodes.append(node)
                parts.append((key, name, node))
            elif name in ("cursor", "__typename"):
                plan.cursors |= name == "cursor"
                parts.append((key, name, type_.name))
            else:
                raise Unsupported(f"{type_.name}.{name}")
        return parts

    def object(self, definition: GraphQLField, nodes: list[FieldNode], source: str) -> ObjectPlan:
        type_ = _object_type(definition.type)
        table = TABLES.get(type_.name)
        if table is None:
            raise Unsupported(f"type {type_.name}")
        plan = ObjectPlan(type_.name, table, source)
        for key, field_nodes in self.collector.collect(type_, _selections(nodes)).items():
            name = field_nodes[0].name.value
            if name == "__typename":
                plan.fields.append(Leaf(key, "typename", function=None, column=None))
                continue
            definition_ = type_.fields[name]
            strawberry_field = _strawberry(definition_, type_.name)
            if name in table.composites:
                composite = table.composites[name]
                value = self.value(definition_.type, field_nodes)
                plan.fields.append(CompositeField(key, composite, value))
                continue
            if name in table.sides:
                side = table.sides[name]
                plan.fields.append(SidePlan(key, side))
                if side.side.name not in plan.sides:
                    plan.sides.append(side.side.name)
                continue
            child = table.children.get(name)
            if child is not None:
                arguments = self.arguments(type_, field_nodes[0])
                rows = _child_source(child)
                self.register(rows, TABLES[child.node_type], set())
                connection = self.connection(definition_, field_nodes, rows)
                if connection.cursors:  # what its cursors read
                    self.register(rows, TABLES[child.node_type], set(child.spec.key.fields))
                found = ChildField(key, child, rows, arguments, connection)
                plan.fields.append(found)
                plan.children.append(found)
                continue
            plan.fields.append(self.leaf(table, key, name, definition_, strawberry_field))
        self.register(source, table, plan.needs())
        self.objects.append(plan)
        return plan

    def register(self, source: str, table: Table, columns: set[str]) -> None:
        """`columns` are read from the rows of `source`, a table's."""
        self.tables[source] = table
        self.sources.setdefault(source, _always(source)).update(columns)

    def leaf(
        self,
        table: Table,
        key: str,
        name: str,
        definition: GraphQLField,
        strawberry_field: StrawberryField,
    ) -> Leaf:
        non_null = isinstance(definition.type, GraphQLNonNull)
        if name == "id":
            return Leaf(key, "id", "id", encode_global_id, non_null=non_null)
        if name in table.computed:
            column, function = table.computed[name]
            return Leaf(key, "computed", column, function, non_null=non_null)
        column = table.column(strawberry_field.python_name)
        named = get_named_type(definition.type)
        if (
            strawberry_field.base_resolver is not None
            or column is None
            or isinstance(definition.type, GraphQLList)
            or not isinstance(named, GraphQLScalarType | GraphQLEnumType)
        ):
            raise Unsupported(f"{table.type_name}.{name}")
        completion, function = _completion(named)
        if completion == "str" and column.type.python_type is str:
            completion = "as is"  # the database gives strings (or NULL) for text columns
        return Leaf(
            key,
            "column",
            column.key,
            function,
            completion,
            non_null=non_null,
            nullable_column=bool(column.nullable),
        )


def _strawberry(definition: GraphQLField, parent: str) -> StrawberryField:
    found = (definition.extensions or {}).get(DEFINITION)
    if not isinstance(found, StrawberryField) or found.extensions or found.permission_classes:
        raise Unsupported(f"{parent} field without a plain Strawberry definition")
    return found


def _object_type(type_: Any) -> GraphQLObjectType:
    named = get_named_type(type_)
    if not isinstance(named, GraphQLObjectType):
        raise Unsupported(f"type {named}")
    return named


def _selections(nodes: list[FieldNode]) -> list[SelectionSetNode]:
    return [node.selection_set for node in nodes if node.selection_set is not None]


def _uses_variables(value: ValueNode) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_uses_variables(item) for item in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_uses_variables(item.value) for item in value.fields)
    return False


def _child_source(child: Child) -> str:
    return f"child:{child.spec.key.tag}"


def _customer_sort_fields(node: FieldNode) -> tuple[str, ...]:
    """What a cursor of a `customers` page reads: its order's columns (each order's, when
    `orderBy` comes from a variable)."""
    order = next((a.value for a in node.arguments or () if a.name.value == "orderBy"), None)
    if order is None:
        return customer_sort_key("CREATED_AT", "DESC").fields
    if isinstance(order, ObjectValueNode):
        chosen = next((f.value for f in order.fields if f.name.value == "field"), None)
        if isinstance(chosen, EnumValueNode):
            return customer_sort_key(chosen.value, "ASC").fields
    return tuple({f for name in SORT_COLUMNS for f in customer_sort_key(name, "ASC").fields})


def _always(source: str) -> set[str]:
    """The columns a source's rows carry whatever is selected: the key, and for a child
    its parent column (the batch is split by it)."""
    if source in (CUSTOMER_PAGES, CUSTOMERS_BY_ID):
        return {"id"}
    for table in TABLES.values():
        for child in table.children.values():
            if _child_source(child) == source:
                return {"id", child.parent}
    raise Unsupported(f"source {source}")


def _completion(type_: GraphQLScalarType | GraphQLEnumType) -> tuple[str, Callable[[Any], Any]]:
    """How a stored value completes: ("str"/"bool", the type's serializer for anything
    else) when such values pass as they are, else ("call", a function of the value)."""
    if isinstance(type_, GraphQLEnumType):
        names = {value.value: name for name, value in type_.values.items()}
        return "call", names.__getitem__
    if type_.name == "DateTime":
        return "call", serialize_datetime
    if type_.name in ("String", "ID"):
        return "str", serializer(type_)
    if type_.name == "Boolean":
        return "bool", serializer(type_)
    return "call", serializer(type_)
