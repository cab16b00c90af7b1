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


def build_schema(tracing: bool = False) -> Schema:
    tracing_extensions: list[Any] = [OpenTelemetryExtension] if tracing else []
    return CustomerGraphSchema(
        query=Query,
        mutation=Mutation,
        types=ENTITIES,
        scalar_overrides={datetime: DateTime, PyDecimal: Decimal},
        config=StrawberryConfig(batching_config={"max_operations": MAX_BATCH}),
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


schema = build_schema(tracing=get_settings().otel_traces_exporter in ("otlp", "console"))

__all__ = ["build_schema", "schema"]
