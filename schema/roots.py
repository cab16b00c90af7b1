"""Query and Mutation: one-line fields delegating to the per-domain modules."""

from __future__ import annotations

import strawberry

from schema import customers, nodes, tenants

field = strawberry.field
mutation = strawberry.mutation


@strawberry.type
class Query:
    node = field(resolver=nodes.node)
    nodes = field(resolver=nodes.nodes)
    viewer = field(resolver=tenants.viewer)
    customer = field(resolver=customers.customer)
    customers = field(resolver=customers.customers)


@strawberry.type
class Mutation:
    create_customer = mutation(resolver=customers.create_customer)
    update_customer = mutation(resolver=customers.update_customer)
    set_customer_name = mutation(resolver=customers.set_customer_name)
    set_customer_ingest_aliases = mutation(resolver=customers.set_customer_ingest_aliases)
    update_customer_config = mutation(resolver=customers.update_customer_config)
    archive_customer = mutation(resolver=customers.archive_customer)
    restore_customer = mutation(resolver=customers.restore_customer)
