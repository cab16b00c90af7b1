"""Paths, the benchmark's operations and the settings every process of a run shares."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


def machine() -> dict[str, Any]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "code": code_version(),
    }


def _git(*arguments: str) -> str:
    command = ["git", "-C", str(ROOT), *arguments]
    return subprocess.run(command, capture_output=True, check=False).stdout.decode().strip()  # noqa: S603


def code_version() -> str:
    """The commit measured, `+dirty` when the working tree has changes."""
    try:
        return _git("rev-parse", "--short", "HEAD") + (
            "+dirty" if _git("status", "--short") else ""
        )
    except OSError:
        return "unknown"


def new_run_dir(kind: str) -> tuple[datetime, Path]:
    """The start of a run (UTC) and its fresh directory, `results/<kind>-<UTC time>/`."""
    started = datetime.now(UTC)
    run_dir = RESULTS / f"{kind}-{started:%Y%m%dT%H%M%SZ}"
    run_dir.mkdir(parents=True)
    return started, run_dir
