"""Tables for the terminal (rich) and Markdown; the benchmark's: CustomerGraph by the floor."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from bench.load import LoadResult

HEADERS = (
    "backend",
    "workers",
    "query",
    "conns",
    "CG req/s",
    "CG p50 ms",
    "CG p95 ms",
    "CG p99 ms",
    "floor req/s",
    "floor p50 ms",
    "CG/floor",
    "exec req/s",
    "exec/floor",
    "CG cpu ms",
    "floor cpu ms",
    "SQL/req",
    "others",
)
NOTE = (
    "CG/floor: CustomerGraph's req/s over the floor's. exec: CustomerGraph with"
    " DIRECT_READS=false, every query on its executor. cpu ms: the server's CPU per request"
    " (its processes', from /proc). SQL/req: CustomerGraph's statements per request (API key"
    " lookup included, BEGIN/COMMIT not). others: cores other processes kept busy during the"
    " cell (the largest of the measurements), out of the machine's."
)


@dataclass(frozen=True, slots=True)
class Measured:
    result: LoadResult
    others: float  # cores other processes kept busy meanwhile, on average
    server_ms: float = math.nan  # the server's CPU per request
    postgres_ms: float = math.nan  # PostgreSQL's CPU per request

    def to_dict(self) -> dict[str, Any]:
        return self.result.to_dict() | {
            "others_cores": round(self.others, 3),
            "server_cpu_ms_per_request": round(self.server_ms, 3),
            "postgres_cpu_ms_per_request": round(self.postgres_ms, 3),
        }


@dataclass(frozen=True, slots=True)
class Cell:
    backend: str
    query: str
    customergraph: Measured
    floor: Measured
    statements: int
    workers: int = 1
    executor: Measured | None = None  # CustomerGraph with DIRECT_READS=false

    @property
    def ratio(self) -> float:
        ours, floor = self.customergraph.result.rps, self.floor.result.rps
        return ours / floor if floor else math.nan

    @property
    def executor_ratio(self) -> float:
        if self.executor is None or not self.floor.result.rps:
            return math.nan
        return self.executor.result.rps / self.floor.result.rps


def ms(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.1f}"


def row(cell: Cell) -> tuple[str, ...]:
    cg, floor = cell.customergraph.result, cell.floor.result
    measured = [cell.customergraph, cell.floor, *([cell.executor] if cell.executor else [])]
    return (
        cell.backend,
        str(cell.workers),
        cell.query,
        str(cg.connections),
        f"{cg.rps:,.0f}",
        ms(cg.p50_ms),
        ms(cg.p95_ms),
        ms(cg.p99_ms),
        f"{floor.rps:,.0f}",
        ms(floor.p50_ms),
        f"{cell.ratio:.2f}",
        "-" if cell.executor is None else f"{cell.executor.result.rps:,.0f}",
        "-" if cell.executor is None else f"{cell.executor_ratio:.2f}",
        cpu_ms(cell.customergraph.server_ms),
        cpu_ms(cell.floor.server_ms),
        str(cell.statements),
        f"{max(m.others for m in measured):.2f}",
    )


def cpu_ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    title: str | None = None,
    caption: str | None = None,
    left: int = 1,
) -> Table:
    """A rich table: the first `left` columns text, the rest numbers (right-aligned)."""
    found = Table(title=title, caption=caption)
    for index, header in enumerate(headers):
        found.add_column(header, justify="left" if index < left else "right")
    for cells in rows:
        found.add_row(*cells)
    return found


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1) -> str:
    """The same table in Markdown."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" if i < left else "---:" for i in range(len(headers))) + "|",
    ]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines) + "\n"


def rich_table(cells: list[Cell], title: str) -> Table:
    return table(HEADERS, map(row, cells), title, NOTE, left=3)


def markdown(cells: list[Cell]) -> str:
    return markdown_table(HEADERS, map(row, cells), left=3)


def errors(cells: list[Cell]) -> list[str]:
    """One line per measurement that had failed answers (none is the normal case)."""
    found = []
    for cell in cells:
        measured_by = [("CustomerGraph", cell.customergraph), ("floor", cell.floor)]
        if cell.executor is not None:
            measured_by.append(("CustomerGraph's executor", cell.executor))
        for name, measured in measured_by:
            if measured.result.errors:
                where = (
                    f"{cell.backend} w{cell.workers} {cell.query} x{measured.result.connections}"
                )
                found.append(f"{where}: {name} had {measured.result.errors} failed answers")
    return found
