"""The compiled execution path: queries run from a cached plan instead of graphql-core's
executor and Strawberry's per-field wrappers; anything the plan does not cover runs there.

`CompiledExecutor` is the graphql-core executor class Strawberry builds for each operation.
Parsing, validation, variable coercion and every schema extension (limits, cost, error
masking, telemetry) stay Strawberry's; only the execution of a query's fields changes.
`COMPILED` switches the path off for the current context (the differential test runs every
operation both ways) and `COMPILED_EXECUTION=false` switches it off for a server.
"""

from __future__ import annotations

from collections import OrderedDict
from contextvars import ContextVar
from typing import Any

from graphql import ExecutionResult, OperationDefinitionNode
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.execution.plan import Plan, Planner, Unsupported, condition_variables
from schema.execution.run import Run

COMPILED: ContextVar[bool] = ContextVar("compiled_execution", default=True)
PLAN_CACHE_SIZE = 512

# (id(operation), the condition variables' truth values) → (operation, plan or None)
_plans: OrderedDict[tuple[Any, ...], tuple[OperationDefinitionNode, Plan | None]] = OrderedDict()
_conditions: dict[int, tuple[OperationDefinitionNode, tuple[str, ...]]] = {}


def plan_for(executor: Any) -> Plan | None:
    """The cached plan of the executor's operation, or None when it is not compiled."""
    operation: OperationDefinitionNode = executor.operation
    known = _conditions.get(id(operation))
    if known is None or known[0] is not operation:
        known = (operation, condition_variables(operation, executor.fragment_definitions))
        if len(_conditions) >= PLAN_CACHE_SIZE:
            _conditions.clear()
        _conditions[id(operation)] = known
    coerced = executor.variable_values.coerced
    key = (id(operation), *(bool(coerced.get(name)) for name in known[1]))
    entry = _plans.get(key)
    if entry is not None and entry[0] is operation:
        _plans.move_to_end(key)
        return entry[1]
    try:
        plan: Plan | None = Planner(executor.schema, executor.fragment_definitions, coerced).plan(
            operation
        )
    except Unsupported:
        plan = None
    _plans[key] = (operation, plan)
    if len(_plans) > PLAN_CACHE_SIZE:
        _plans.popitem(last=False)
    return plan


class CompiledExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, with queries answered from a compiled plan when possible."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        middleware = self.middleware_manager
        if (
            not COMPILED.get()
            or (middleware is not None and middleware.middlewares)
            or self.abort_signal is not None
        ):
            return super().execute_operation(serially)
        plan = plan_for(self)
        if plan is None:
            return super().execute_operation(serially)
        return self._run(plan)

    async def _run(self, plan: Plan) -> ExecutionResult:
        data, errors = await Run(self, plan).execute()
        return ExecutionResult(data, errors or None)
