"""Query limits, checked before execution: depth, aliases, tokens and node cost.

The cost follows GitHub's node limit: every connection multiplies the nodes its parents
may return by its `first`/`last` (20 when neither is given), and the request's cost is
the sum over all connections; `nodes(ids)` and `_entities` count their list. A query over
a limit is refused with QUERY_TOO_COMPLEX and nothing runs; every answer reports its cost
in `extensions.cost`. Introspection (`__schema`, `__type`) is not limited in depth, so
GraphiQL's own introspection query always works.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 5000
MAX_NODES = 50_000
MAX_BATCH = 10
DEFAULT_PAGE = 20
MAX_PAGE = 100


@dataclass(slots=True)
class Cost:
    depth: int = 0
    aliases: int = 0
    nodes: int = 0

    def problem(self) -> str | None:
        """Why this query is refused, if it is over a limit."""
        if self.depth > MAX_DEPTH:
            return f"Query depth {self.depth} is over the limit of {MAX_DEPTH}"
        if self.aliases > MAX_ALIASES:
            return f"{self.aliases} aliases are over the limit of {MAX_ALIASES}"
        if self.nodes > MAX_NODES:
            return f"This query may return {self.nodes} nodes, over the limit of {MAX_NODES}"
        return None

    def as_extension(self) -> dict[str, int]:
        return {
            "nodes": self.nodes,
            "limit": MAX_NODES,
            "depth": self.depth,
            "aliases": self.aliases,
        }


def too_complex(message: str, cost: Cost) -> GraphQLError:
    return GraphQLError(
        message, extensions={"code": "QUERY_TOO_COMPLEX", "cost": cost.as_extension()}
    )


class _Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema, self.fragments, self.variables = schema, fragments, variables
        self.cost = Cost()

    def _count(self, node: Any, default: int) -> int:
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, VariableNode):
            value = self.variables.get(node.name.value)
            return (
                len(value)
                if isinstance(value, list)
                else int(value)
                if isinstance(value, int)
                else default
            )
        if isinstance(node, ListValueNode):
            return len(node.values)
        return default

    def _size(self, field: FieldNode, type_name: str) -> int | None:
        """How many items one occurrence of this field may return, if it is a list we size."""
        arguments = {argument.name.value: argument.value for argument in field.arguments or ()}
        if type_name.endswith("Connection"):
            for name in ("first", "last"):
                if name in arguments:
                    return max(0, min(self._count(arguments[name], DEFAULT_PAGE), MAX_PAGE))
            return DEFAULT_PAGE
        for name in ("ids", "representations"):
            if name in arguments:
                return self._count(arguments[name], 1)
        return None

    def fields(
        self, selection_set: SelectionSetNode | None, parent: Any, seen: frozenset[str]
    ) -> Iterator[tuple[FieldNode, Any]]:
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                yield from self.fields(selection.selection_set, target, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    yield from self.fields(fragment.selection_set, target, seen | {name})

    def walk(
        self, selection_set: SelectionSetNode | None, parent: Any, depth: int, multiplier: int
    ) -> None:
        for field, owner in self.fields(selection_set, parent, frozenset()):
            name = field.name.value
            if field.alias is not None:
                self.cost.aliases += 1
            if name.startswith("__"):
                continue
            self.cost.depth = max(self.cost.depth, depth)
            definition = getattr(owner, "fields", {}).get(name) if owner is not None else None
            field_type = get_named_type(definition.type) if definition is not None else None
            size = self._size(field, field_type.name if field_type is not None else "")
            inner = multiplier
            if size is not None:
                inner = multiplier * size
                self.cost.nodes += inner
            if field.selection_set is not None:
                self.walk(field.selection_set, field_type, depth + 1, inner)


def count_key(value: Any) -> tuple[Any, ...]:
    """What the cost reads of a variable's value (`_Walker._count`): equal keys, equal costs."""
    if isinstance(value, list):
        return ("list", len(value))
    if isinstance(value, int):
        return ("int", int(value))
    return ("default",)


class _Reads(dict[str, Any]):
    """Variables that remember which of them were read."""

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__(values)
        self.names: list[str] = []

    def get(self, key: str, default: Any = None) -> Any:
        self.names.append(key)
        return super().get(key, default)


def measure_reading(
    schema: GraphQLSchema, document: Any, operation_name: str | None, variables: dict[str, Any]
) -> tuple[Cost, tuple[str, ...]]:
    """`measure`, and the variables the cost depends on (through `count_key`)."""
    reads = _Reads(variables)
    cost = measure(schema, document, operation_name, reads)
    return cost, tuple(dict.fromkeys(reads.names))


def measure(
    schema: GraphQLSchema, document: Any, operation_name: str | None, variables: dict[str, Any]
) -> Cost:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    chosen = [
        o
        for o in operations
        if operation_name is None or (o.name and o.name.value == operation_name)
    ]
    walker = _Walker(schema, fragments, variables)
    for operation in chosen[:1]:
        root: GraphQLObjectType | None = schema.get_root_type(operation.operation)
        walker.walk(operation.selection_set, root, 1, 1)
    return walker.cost


_costs: OrderedDict[tuple[int, str | None, bytes], tuple[DocumentNode, Cost]] = OrderedDict()
COST_CACHE_SIZE = 512


def measured(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any],
) -> Cost:
    """`measure`, remembered per parsed document (the parser cache keeps it the same object),
    operation and variable values."""
    try:
        key = (id(document), operation_name, orjson.dumps(variables, option=orjson.OPT_SORT_KEYS))
    except TypeError:
        return measure(schema, document, operation_name, variables)
    known = _costs.get(key)
    if known is not None and known[0] is document:
        _costs.move_to_end(key)
        return replace(known[1])
    cost = measure(schema, document, operation_name, variables)
    _costs[key] = (document, replace(cost))
    if len(_costs) > COST_CACHE_SIZE:
        _costs.popitem(last=False)
    return cost


class QueryLimits(SchemaExtension):
    """Refuses a query over a limit before it runs; reports every query's cost."""

    cost: Cost | None = None

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None:
            schema = context.schema._schema
            self.cost = cost = measured(
                schema, document, context.operation_name, context.variables or {}
            )
            problem = cost.problem()
            if problem is not None:
                raise too_complex(problem, cost)
        yield

    def get_results(self) -> dict[str, Any]:
        return {} if self.cost is None else {"cost": self.cost.as_extension()}
