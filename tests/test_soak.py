"""bench/soak.py's core for a few seconds: a fresh database with the bench dataset, the real
server in its own process, the mixed load, and every acknowledged write read back.

No timing or memory thresholds here: those are for the recorded run (bench/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.mix import Written, lost
from bench.soak import Options, soak


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_a_short_soak_has_no_errors_and_loses_no_write(backend: str, tmp_path: Path) -> None:
    options = Options(backend=backend, seconds=12, connections=4, customers=200, window=3)
    report = soak(options, tmp_path)

    assert report.errors == 0, "\n".join(map(str, report.failures))
    assert report.lost == []
    assert report.creates > 0
    assert report.creates == report.acknowledged["create"]
    assert report.acknowledged["update"] + report.acknowledged["archive/restore"] > 0
    assert {op for op, *_ in report.operations} >= {"q1", "q2", "q3", "create", "read back"}
    assert len(report.windows) == 4
    assert all(window.requests > 0 and window.rss_mb for window in report.windows)
    assert len(report.rss) >= 10
    assert report.requests == sum(window.requests for window in report.windows)


def test_the_read_back_names_each_customer_that_differs() -> None:
    def customer(number: int, version: int) -> Written:
        return Written(
            id=f"C{number}",
            handle=f"soak-{number}",
            external_id=f"soak-ext-{number}",
            display_name="Soak",
            email="soak@example.com",
            country_code="DE",
            version=version,
            subscriptions=["S1"],
        )

    written = [customer(1, 3), customer(2, 3), customer(3, 3), customer(4, 3)]
    nodes: list[dict[str, object] | None] = [
        customer(1, 3).fields(),  # as written
        customer(2, 2).fields(),  # an update lost
        None,  # a create lost
        customer(4, 3).fields(),  # its subscription lost
    ]
    for node, count in zip(nodes, (1, 1, 0, 0), strict=True):
        if node is not None:
            node["subscriptionCount"] = count
            node["subscriptions"] = {"nodes": [{"id": "S1"}] if count else []}

    found = lost(written, {"nodes": nodes})

    assert [line.split(":")[0].split()[0] for line in found] == ["C2", "C3", "C4"]
