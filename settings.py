"""Typed settings read from the environment (or a `.env` file), validated at start."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/customergraph.db"


class Settings(BaseSettings):
    """Every knob of the service; the README lists each environment variable."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    rate_limit_per_minute: Annotated[int, Field(ge=0)] = 60
    # Signs pagination cursors; the default suits one developer, set SECRET_KEY in production.
    secret_key: str = "customergraph-development-secret"  # noqa: S105
    db_pool_size: Annotated[int, Field(ge=1, le=200)] = 10
    db_statement_timeout_ms: Annotated[int, Field(ge=0)] = 10_000
    db_pool_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 2.0
    # PostgreSQL: the role the server's connections take (row-level security applies to
    # it); empty keeps the login role, e.g. when DATABASE_URL logs in as a restricted user.
    database_app_role: str = "customergraph_app"
    log_level: str = "info"
    # Queries run from compiled plans (schema/execution); false: Strawberry's executor only.
    compiled_execution: bool = True
    # Queries a direct plan covers are answered from SQL rows on a pool of their own
    # (schema/direct, models/reads.py); false: every query goes through the executor.
    direct_reads: bool = True
    # OpenTelemetry's own variable: "otlp" (with OTEL_EXPORTER_OTLP_ENDPOINT) or "console".
    otel_traces_exporter: str | None = None

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return async_database_url(value)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def async_database_url(url: str) -> str:
    """Accept the usual sync URLs and name the async driver SQLAlchemy needs."""
    for prefix, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgresql+psycopg://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(prefix):
            return driver + url[len(prefix) :]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
