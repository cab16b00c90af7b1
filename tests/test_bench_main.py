"""`python -m bench` in a tiny configuration, so that the benchmark can not rot unseen.

PostgreSQL only (the benchmark makes its own database): the dataset loads, the statement
counts are the pinned ones, the three servers (CustomerGraph, the same on its executor,
the floor) give equal answers and are measured, and the table and results are written. No
timing is asserted.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent


def test_the_benchmark_runs_and_records_every_cell() -> None:
    command = [sys.executable, "-m", "bench", "--customers", "1000", "--seconds", "0.5"]
    command += ["--warmup", "0.2", "--connections", "2", "--workers", "1"]
    command += ["--backends", "postgresql", "--no-profile", "--no-pin"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stderr.rsplit("results in ", 1)[1].split()[0])
    record = orjson.loads((run_dir / "results.json").read_bytes())
    cells = {cell["query"]: cell for cell in record["cells"]}
    assert {query: cell["statements"] for query, cell in cells.items()} == {
        "q1": 2,
        "q2": 4,
        "q3": 2,
    }
    for cell in cells.values():
        for side in ("customergraph", "floor", "executor"):
            assert cell[side]["requests"] > 0 and cell[side]["errors"] == 0, (side, cell)
            assert cell[side]["server_cpu_ms_per_request"] > 0
    assert "CG/floor" in (run_dir / "table.md").read_text()
