"""SQLAlchemy models, engine and session setup, the unit of work and the tenancy guard."""

from models.base import Base, TenantOwned
from models.billing import BillableMetric
from models.customers import Customer, CustomerIngestAlias
from models.events import CustomerEvent
from models.idempotency import IdempotencyRecord
from models.instances import Instance
from models.plans import Plan, PlanCharge, Subscription
from models.tenants import ApiKey, Tenant
from models.usage import UsageEvent

__all__ = [
    "ApiKey",
    "Base",
    "BillableMetric",
    "Customer",
    "CustomerEvent",
    "CustomerIngestAlias",
    "IdempotencyRecord",
    "Instance",
    "Plan",
    "PlanCharge",
    "Subscription",
    "Tenant",
    "TenantOwned",
    "UsageEvent",
]
