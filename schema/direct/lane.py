"""The direct lane: a query the direct planner covers is answered without the executor.

`DirectLane.prepare` takes a request's JSON body and finds, in a bounded cache by document
text and operation name, the operation parsed and validated exactly as Strawberry does
(the same parser limits and validation rules). Per request it then coerces the variables
(schema/execution/variables.py), measures the query against the limits (schema/limits.py)
and finds the plan for the values its `@skip`/`@include` read. Anything it does not take
(a document that does not parse or validate, a mutation, a field no plan covers, variables
that do not coerce, a query over a limit) is None: Strawberry's view answers it, errors and
all. `DirectLane.run` then runs the plan on the request's connection and gives the body.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    get_operation_ast,
    parse,
    specified_rules,
)
from graphql.execution.values import VariableValues
from strawberry.relay import GlobalID
from strawberry.scalars import is_scalar
from strawberry.schema.schema import validate_document
from strawberry.types.arguments import convert_argument
from strawberry.types.base import StrawberryOptional

from domain.persisted import PersistedQueries
from models.reads import Reader
from schema.direct.plan import DirectPlan, DirectPlanner
from schema.direct.project import projector
from schema.direct.run import DirectRun
from schema.execution.plan import Unsupported, condition_variables
from schema.execution.variables import coercion
from schema.limits import MAX_TOKENS, count_key, measure, measure_reading

# Off: the executor answers every request of the current context (the differential tests
# run each query both ways); DIRECT_READS=false switches the lane off for a server.
DIRECT: ContextVar[bool] = ContextVar("direct_reads", default=True)
DOCUMENTS_KEPT = 512
PLANS_KEPT = 16  # per document: one per value of the variables @skip/@include read
COSTS_KEPT = 64  # per document: one per value of what the cost reads of the variables


@dataclass(eq=False, slots=True)
class Entry:
    """One document and operation: parsed, validated, a query."""

    document: DocumentNode
    operation: OperationDefinitionNode
    name: str | None  # the operation name telemetry and the cost use (Strawberry's)
    fragments: dict[str, FragmentDefinitionNode]
    conditions: tuple[str, ...]
    coerce: Callable[[dict[str, Any]], list[GraphQLError] | VariableValues]
    cost_variables: tuple[str, ...]  # what the cost reads of variables (schema/limits.py)
    plans: dict[tuple[bool, ...], DirectPlan | None] = field(default_factory=dict)
    # The cost extension, or None over a limit, by what it reads of the variables.
    costs: dict[tuple[Any, ...], dict[str, int] | None] = field(default_factory=dict)


@dataclass(eq=False, slots=True)
class Prepared:
    """A request the lane answers: its plan, variables and cost."""

    plan: DirectPlan
    variables: VariableValues | None
    cost: dict[str, int]
    operation: str | None


class DirectLane:
    def __init__(self, schema: Any, persisted: PersistedQueries, secret: bytes) -> None:
        self.schema = schema  # strawberry's Schema
        self.graphql = schema._schema
        self.persisted = persisted
        self.secret = secret
        self.entries: OrderedDict[tuple[str, str | None], Entry | None] = OrderedDict()
        converter = schema.schema_converter
        self._scalars, self._config = converter.scalar_registry, schema.config

    def _converter(self, type_: Any, name: str) -> Callable[[Any], Any] | None:
        """How Strawberry converts a value of an argument's type (`convert_argument`):
        None where that is the value itself (a scalar, or an optional one)."""
        inner = type_.of_type if type(type_) is StrawberryOptional else type_
        if is_scalar(inner, self._scalars) and inner is not GlobalID:
            return None
        scalars, config = self._scalars, self._config

        def convert(value: Any) -> Any:
            return convert_argument(value, type_, scalars, config, path=(name,))

        return convert

    # ----------------------------------------------------------------- documents

    def entry(self, query: str, operation_name: str | None) -> Entry | None:
        key = (query, operation_name)
        if key in self.entries:
            self.entries.move_to_end(key)
            return self.entries[key]
        found = self._entry(query, operation_name)
        self.entries[key] = found
        if len(self.entries) > DOCUMENTS_KEPT:
            self.entries.popitem(last=False)
        return found

    def _entry(self, query: str, operation_name: str | None) -> Entry | None:
        try:
            document = parse(query, max_tokens=MAX_TOKENS)
        except GraphQLError:
            return None
        if validate_document(self.graphql, document, tuple(specified_rules)):
            return None
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation is not OperationType.QUERY:
            return None
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        name = operation_name if operation_name is not None else _name(operation)
        conditions = condition_variables(operation, fragments)
        coerce = coercion(self.graphql, operation.variable_definitions or ())
        _, cost_variables = measure_reading(self.graphql, document, name, {})
        return Entry(document, operation, name, fragments, conditions, coerce, cost_variables)

    def cost(self, entry: Entry, variables: dict[str, Any]) -> dict[str, int] | None:
        """The query's cost extension, or None when it is over a limit."""
        key = tuple(count_key(variables.get(name)) for name in entry.cost_variables)
        if key in entry.costs:
            return entry.costs[key]
        cost = measure(self.graphql, entry.document, entry.name, variables)
        found = None if cost.problem() is not None else cost.as_extension()
        if len(entry.costs) < COSTS_KEPT:
            entry.costs[key] = found
        return found

    def plan(self, entry: Entry, coerced: dict[str, Any]) -> DirectPlan | None:
        key = tuple(bool(coerced.get(name)) for name in entry.conditions)
        if key in entry.plans:
            return entry.plans[key]
        planner = DirectPlanner(
            self.graphql, entry.fragments, coerced, self._converter, self._config.name_converter
        )
        plan: DirectPlan | None
        try:
            plan = planner.plan(entry.operation.selection_set)
            for selection in planner.objects:
                selection.project = projector(selection, plan.columns[selection.source])
        except Unsupported:
            plan = None
        if len(entry.plans) < PLANS_KEPT:
            entry.plans[key] = plan
        return plan

    # ----------------------------------------------------------------- requests

    def prepare(self, payload: Any) -> Prepared | None:
        """The plan of a JSON request body, or None when the executor must answer it."""
        if not isinstance(payload, dict):
            return None
        query = payload.get("query")
        operation_name = payload.get("operationName")
        variables = payload.get("variables")
        extensions = payload.get("extensions")
        if extensions is not None:
            if not isinstance(extensions, dict):
                return None
            try:
                query = self.persisted.resolve(query, extensions)
            except Exception:  # the executor answers it, with the same error
                return None
        if not isinstance(query, str) or not isinstance(operation_name, str | None):
            return None
        if variables is None:
            variables = {}
        elif not isinstance(variables, dict):
            return None
        entry = self.entry(query, operation_name)
        if entry is None:
            return None
        values: VariableValues | None = None
        coerced: dict[str, Any] = {}
        if entry.operation.variable_definitions:
            found = entry.coerce(variables)
            if isinstance(found, list):  # errors: the executor reports them
                return None
            values, coerced = found, found.coerced
        cost = self.cost(entry, variables)
        if cost is None:
            return None
        plan = self.plan(entry, coerced)
        if plan is None:
            return None
        return Prepared(plan, values, cost, entry.name)

    async def run(self, prepared: Prepared, reader: Reader, dialect: Any) -> bytes:
        """The response body; raises (Fallback or any other exception) to hand the request
        to the executor, having answered nothing."""
        run = DirectRun(prepared.plan, reader, prepared.variables, self.secret, dialect)
        data = await run.execute()
        return orjson.dumps({"data": data, "extensions": {"cost": prepared.cost}})


def _name(operation: OperationDefinitionNode) -> str | None:
    return operation.name.value if operation.name else None
