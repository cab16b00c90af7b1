"""The GraphQL surface: types per domain, the roots and the federation Schema object."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as PyDecimal
from functools import partial
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.federation import Schema

from schema.billing import BillableMetric
from schema.customers import Customer
from schema.errors import MaskUnexpectedErrors
from schema.instances import Instance
from schema.plans import Plan, Subscription
from schema.roots import Mutation, Query
from schema.scalars import DateTime, Decimal
from schema.tenants import Tenant

ENTITIES = [Customer, Tenant, Plan, Subscription, Instance, BillableMetric]


class CustomerGraphSchema(Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Expected errors are answers, not incidents; unexpected ones are logged when masked."""


def build_schema() -> Schema:
    return CustomerGraphSchema(
        query=Query,
        mutation=Mutation,
        types=ENTITIES,
        scalar_overrides={datetime: DateTime, PyDecimal: Decimal},
        extensions=[
            partial(ParserCache, maxsize=512),
            partial(ValidationCache, maxsize=512),
            MaskUnexpectedErrors,
        ],
    )


schema = build_schema()

__all__ = ["build_schema", "schema"]
