"""SQLAlchemy models, engine and session setup, the unit of work and the tenancy guard."""

from models.base import Base, TenantOwned
from models.customers import Customer, CustomerIngestAlias
from models.tenants import ApiKey, Tenant

__all__ = ["ApiKey", "Base", "Customer", "CustomerIngestAlias", "Tenant", "TenantOwned"]
