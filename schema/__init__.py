"""The GraphQL surface: types per domain, the roots and the federation Schema object."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as PyDecimal
from functools import partial
from typing import Any, TypeGuard

from graphql import GraphQLError
from strawberry.extensions import MaxTokensLimiter, ParserCache, ValidationCache
from strawberry.extensions.tracing import OpenTelemetryExtension
from strawberry.federation import Schema
from strawberry.federation.schema import FederationAny
from strawberry.schema.config import StrawberryConfig
from strawberry.types.info import Info

from domain.errors import BadUserInput
from schema.billing import BillableMetric
from schema.customers import Customer
from schema.errors import MaskUnexpectedErrors
from schema.execution import CompiledExecutor
from schema.execution.variables import install as install_variable_coercion
from schema.instances import Instance
from schema.limits import MAX_BATCH, MAX_TOKENS, QueryLimits
from schema.plans import Plan, Subscription
from schema.roots import Mutation, Query
from schema.scalars import DateTime, Decimal
from schema.tenants import Tenant
from settings import get_settings
from telemetry import OperationTelemetry

ENTITIES = [Customer, Tenant, Plan, Subscription, Instance, BillableMetric]
KEYED = sorted(t.__name__ for t in ENTITIES if hasattr(t, "resolve_reference"))


class CustomerGraphSchema(Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Expected errors are answers, not incidents; unexpected ones are logged when masked."""

    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        """strawberry's `_entities`, given only well-formed representations: any other is a
        BAD_USER_INPUT at its index (strawberry would raise KeyError or TypeError: a 500)."""
        keyed = [_is_key(item) for item in representations]
        # strawberry pops `__typename` from each representation: it is given copies.
        wanted = [FederationAny(dict(item)) for item in representations if _is_key(item)]
        resolved = iter(super().entities_resolver(info, wanted))
        message = f"A representation is {{__typename, id}}, __typename one of {', '.join(KEYED)}"
        return [
            next(resolved)
            if ok
            else FederationAny(BadUserInput(message, argument="representations"))
            for ok in keyed
        ]


def _is_key(representation: object) -> TypeGuard[dict[str, str]]:
    """`{__typename: <an entity with a key>, id: <string>}`, our only @key."""
    return (
        isinstance(representation, dict)
        and set(representation) == {"__typename", "id"}
        and representation["__typename"] in KEYED
        and isinstance(representation["id"], str)
    )


def build_schema(tracing: bool = False, compiled: bool = True) -> Schema:
    """The schema; `compiled` runs queries through schema/execution's plans. Variables are
    coerced by schema/execution/variables either way (the same values, built faster)."""
    install_variable_coercion()
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
