"""The served SDL: committed, federation-ready, and true to the contract."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from graphql import BreakingChangeType, build_schema, find_breaking_changes

from schema import schema

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "schema" / "schema.graphql"
CONTRACT_CHECK = ROOT.parent / "shared" / "tools" / "contract_check.py"


def test_committed_sdl_matches_served_schema() -> None:
    served = schema.as_str() + "\n"
    assert COMMITTED.read_text() == served, "schema/schema.graphql drifted: run `make schema`"


def test_export_schema_prints_the_served_sdl() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "export-schema"], cwd=ROOT, capture_output=True, check=True
    )
    assert result.stdout.decode() == schema.as_str() + "\n"


def test_sdl_has_explicit_schema_definition_and_no_subscription_root() -> None:
    sdl = schema.as_str()
    assert re.search(r"^schema @link\(.*\) \{\n  query: Query\n  mutation: Mutation\n\}", sdl, re.M)
    reparsed = build_schema(re.sub(r"@\w+(\([^)]*\))?", "", sdl), assume_valid=True)
    assert reparsed.subscription_type is None
    assert reparsed.query_type is not None and reparsed.query_type.name == "Query"


def test_federation_service_sdl_carries_keys_and_schema_definition() -> None:
    result = schema.execute_sync("{ _service { sdl } }")
    assert result.errors is None
    assert result.data is not None
    sdl = result.data["_service"]["sdl"]
    assert 'type Customer implements Node @key(fields: "id")' in sdl
    assert "query: Query" in sdl and "mutation: Mutation" in sdl
    assert "type PageInfo @shareable" in sdl


def _contract_problems() -> list[str]:
    result = subprocess.run(
        [sys.executable, str(CONTRACT_CHECK), str(COMMITTED)], capture_output=True, text=True
    )
    lines = result.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("contract:"), result.stdout + result.stderr
    return lines[:-1]


def test_every_contract_item_is_served_as_specified() -> None:
    assert _contract_problems() == []


def test_no_breaking_change_from_the_contract() -> None:
    """graphql-core's breaking-change check, the contract taken as the old schema."""
    prelude = (
        "directive @key(fields: String!, resolvable: Boolean = true) repeatable on OBJECT\n"
        "schema { query: Query mutation: Mutation }\n"
    )
    contract = build_schema(
        prelude + (ROOT.parent / "shared" / "design" / "contract.graphql").read_text()
    )
    served_sdl = re.sub(r"@\w+(\([^)]*\))?", "", COMMITTED.read_text())
    served = build_schema(served_sdl, assume_valid=True)
    changes = [
        f"{change.type.name}: {change.description}"
        for change in find_breaking_changes(contract, served)
        if change.type is not BreakingChangeType.DIRECTIVE_REMOVED
    ]
    assert changes == []
