"""Paths, the benchmark's operations and the settings every process of a run shares."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"  # git-ignored
OPERATIONS = ROOT / "tests" / "operations"  # shared with the tests
QUERIES = ("q1", "q2", "q3")
HOST = "127.0.0.1"
# Signs cursors in both servers, so CustomerGraph and the floor answer the same bytes.
SECRET = "customergraph-bench-secret"  # noqa: S105 - a throwaway database


def operation(name: str) -> str:
    """The GraphQL document of one benchmark query (`q1`, `q2`, `q3`)."""
    return (OPERATIONS / f"Bench{name.upper()}.graphql").read_text()


def venv_tool(name: str) -> str:
    """A console script installed next to the running interpreter (`.venv/bin/...`)."""
    return str(Path(sys.executable).parent / name)
