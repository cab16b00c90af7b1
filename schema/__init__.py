"""The GraphQL surface: types per domain, the roots and the federation Schema object."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as PyDecimal
from functools import partial
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import MaxTokensLimiter, ParserCache, ValidationCache
from strawberry.extensions.tracing import OpenTelemetryExtension
from strawberry.federation import Schema
from strawberry.schema.config import StrawberryConfig

from schema.billing import BillableMetric
from schema.customers import Customer
from schema.errors import MaskUnexpectedErrors
from schema.execution import CompiledExecutor
from schema.instances import Instance
from schema.limits import MAX_BATCH, MAX_TOKENS, QueryLimits
from schema.plans import Plan, Subscription
from schema.roots import Mutation, Query
from schema.scalars import DateTime, Decimal
from schema.tenants import Tenant
from settings import get_settings
from telemetry import OperationTelemetry

ENTITIES = [Customer, Tenant, Plan, Subscription, Instance, BillableMetric]


class CustomerGraphSchema(Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Expected errors are answers, not incidents; unexpected ones are logged when masked."""


def build_schema(tracing: bool = False, compiled: bool = True) -> Schema:
    """The schema; `compiled` runs queries through schema/execution's plans."""
    tracing_extensions: list[Any] = [OpenTelemetryExtension] if tracing else []
    return CustomerGraphSchema(
        query=Query,
        mutation=Mutation,
        types=ENTITIES,
        scalar_overrides={datetime: DateTime, PyDecimal: Decimal},
        config=StrawberryConfig(batching_config={"max_operations": MAX_BATCH}),
        execution_context_class=CompiledExecutor if compiled else None,
        extensions=[
            partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
            partial(ParserCache, maxsize=512),
            partial(ValidationCache, maxsize=512),
            QueryLimits,
            MaskUnexpectedErrors,
            OperationTelemetry,
            *tracing_extensions,
        ],
    )


_settings = get_settings()
schema = build_schema(
    tracing=_settings.otel_traces_exporter in ("otlp", "console"),
    compiled=_settings.compiled_execution,
)

__all__ = ["build_schema", "schema"]
