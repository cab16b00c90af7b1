"""How much CPU other processes took during a measurement (Linux /proc; 0 elsewhere).

The machine's busy time, less the server's, the load driver's and PostgreSQL's, is what
something else (another test run, say) took from the two cores a figure depends on.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


def _ticks_per_second() -> int:
    try:
        return os.sysconf("SC_CLK_TCK")
    except (AttributeError, ValueError, OSError):
        return 100


TICKS = _ticks_per_second()


def machine_busy() -> float:
    """CPU seconds spent busy by all cores since boot (idle and I/O wait excluded)."""
    try:
        fields = (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / TICKS


def process_cpu(pid: int) -> float:
    """CPU seconds of one process (0 once it is gone)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return 0.0
    fields = text.rsplit(")", 1)[1].split()  # after `pid (comm)`
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of each local PostgreSQL process (the database is part of the test)."""
    found = {}
    for entry in PROC.glob("[0-9]*"):
        try:
            if (entry / "comm").read_text().strip() == "postgres":
                found[int(entry.name)] = process_cpu(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


def own_cpu() -> float:
    """CPU seconds of this process and its finished children (each load driver)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # monotonic seconds
    busy: float  # CPU seconds, whole machine
    ours: float  # CPU seconds, servers + this process and its children
    postgres: dict[int, float]  # CPU seconds of each PostgreSQL process


def family(pid: int) -> list[int]:
    """A process and its descendants (a uvicorn supervisor and its workers)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            children = (PROC / str(current) / "task" / str(current) / "children").read_text()
        except OSError:
            continue
        pending += [int(child) for child in children.split()]
    return found


def sample(server_pids: tuple[int, ...]) -> Sample:
    pids = [each for pid in server_pids for each in family(pid)]
    ours = sum(map(process_cpu, pids)) + own_cpu()
    return Sample(time.monotonic(), machine_busy(), ours, postgres_cpu())


def others(before: Sample, after: Sample) -> float:
    """Cores other processes kept busy on average between two samples.

    PostgreSQL counts per process: one that ended in between (another session's backend)
    took its whole lifetime's CPU with it, which must not come off the machine's time."""
    wall = after.at - before.at
    if wall <= 0:
        return 0.0
    postgres = sum(cpu - before.postgres.get(pid, 0.0) for pid, cpu in after.postgres.items())
    ours = after.ours - before.ours + postgres
    return max(0.0, (after.busy - before.busy - ours) / wall)


def family_cpu(pid: int) -> float:
    """CPU seconds of a process and its descendants (a server and its workers)."""
    return sum(map(process_cpu, family(pid)))


def postgres_spent(before: Sample, after: Sample) -> float:
    """CPU seconds PostgreSQL's processes spent between two samples."""
    return sum(cpu - before.postgres.get(pid, 0.0) for pid, cpu in after.postgres.items())
