"""The `customergraph` command: migrate, tenants and keys, demo data, serve, export the SDL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from settings import get_settings

cli = typer.Typer(
    help="CustomerGraph: a multi-tenant GraphQL API for customers.", add_completion=False
)
console = Console(stderr=True)
ROOT = Path(__file__).resolve().parent


def alembic_config(url: str | None = None) -> object:
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


@cli.command()
def migrate() -> None:
    """Upgrade the database to the latest version."""
    from alembic import command

    command.upgrade(alembic_config(get_settings().database_url), "head")  # type: ignore[arg-type]
    console.print("database is at the latest version")


@cli.command("create-tenant")
def create_tenant(name: str) -> None:
    """Create a tenant; print its id (last line)."""
    from resolvers import admin

    tenant_id = asyncio.run(admin.create_tenant(get_settings(), name))
    print(tenant_id)


@cli.command("create-api-key")
def create_api_key(
    tenant: Annotated[str, typer.Option(help="The tenant's name (or id).")],
    scope: Annotated[
        list[str] | None, typer.Option(help="A scope; repeat it. None given: all scopes.")
    ] = None,
) -> None:
    """Create an API key; print it once (last line). Only its hash is stored."""
    from resolvers import admin

    key = asyncio.run(admin.create_api_key(get_settings(), tenant, scope or None))
    print(key)


@cli.command("seed-demo")
def seed_demo() -> None:
    """A demo tenant with realistic customers (idempotent); print a fresh API key."""
    from resolvers import admin

    key = asyncio.run(admin.seed_demo(get_settings()))
    print(key)


@cli.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Run the server (uvicorn with uvloop and httptools)."""
    import uvicorn

    uvicorn.run(
        "app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level=get_settings().log_level,
        access_log=False,  # every request is logged once, as JSON, by telemetry.py
    )


@cli.command("export-schema")
def export_schema() -> None:
    """Print the SDL (with its explicit schema definition)."""
    from schema import schema

    print(schema.as_str())


def main() -> None:
    from resolvers.admin import AdminError

    try:
        cli()
    except AdminError as error:
        console.print(f"[red]error:[/red] {error}")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
