"""Query and Mutation: one-line fields delegating to the per-domain modules."""

from __future__ import annotations

import strawberry

from schema import billing, customers, instances, nodes, plans, tenants, usage

field = strawberry.field
mutation = strawberry.mutation


@strawberry.type
class Query:
    node = field(resolver=nodes.node)
    nodes = field(resolver=nodes.nodes)
    viewer = field(resolver=tenants.viewer)
    customer = field(resolver=customers.customer)
    customers = field(resolver=customers.customers)
    plans = field(resolver=plans.plans)
    billable_metrics = field(resolver=billing.billable_metrics)
    preview_invoice = field(resolver=usage.preview_invoice)


@strawberry.type
class Mutation:
    create_customer = mutation(resolver=customers.create_customer)
    update_customer = mutation(resolver=customers.update_customer)
    set_customer_name = mutation(resolver=customers.set_customer_name)
    set_customer_ingest_aliases = mutation(resolver=customers.set_customer_ingest_aliases)
    update_customer_config = mutation(resolver=customers.update_customer_config)
    archive_customer = mutation(resolver=customers.archive_customer)
    restore_customer = mutation(resolver=customers.restore_customer)
    clone_customer = mutation(resolver=customers.clone_customer)

    create_plan = mutation(resolver=plans.create_plan)
    create_subscription = mutation(resolver=plans.create_subscription)
    cancel_subscription = mutation(resolver=plans.cancel_subscription)
    create_instance = mutation(resolver=instances.create_instance)
    set_instance_status = mutation(resolver=instances.set_instance_status)
    create_billable_metric = mutation(resolver=billing.create_billable_metric)
    archive_billable_metric = mutation(resolver=billing.archive_billable_metric)
    ingest_usage = mutation(resolver=usage.ingest_usage)
