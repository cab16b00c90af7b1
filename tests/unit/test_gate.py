"""models.db.Gate: requests get pooled connections in the order they asked for them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

from models.db import UnitOfWork, make_engine, make_sessionmaker
from models.gate import Gate


async def test_slots_go_to_waiters_in_arrival_order_and_newcomers_queue_behind() -> None:
    gate = Gate(size=2, timeout=5)
    order: list[int] = []
    await gate.enter()
    await gate.enter()  # both slots taken

    async def request(number: int) -> None:
        await gate.enter()
        order.append(number)
        await asyncio.sleep(0)
        gate.leave()

    waiting = [asyncio.create_task(request(n)) for n in range(5)]
    await asyncio.sleep(0)  # all five are waiting now
    gate.leave()
    # A newcomer arriving just as a slot frees must not take it before the waiters.
    late = asyncio.create_task(request(99))
    gate.leave()
    await asyncio.gather(*waiting, late)
    assert order == [0, 1, 2, 3, 4, 99]


async def test_a_request_that_waits_too_long_gets_the_pool_timeout() -> None:
    gate = Gate(size=1, timeout=0.05)
    await gate.enter()
    with pytest.raises(PoolTimeout):
        await gate.enter()
    gate.leave()
    await gate.enter()  # the timed-out waiter took no slot with it
    gate.leave()


async def test_a_cancelled_close_still_gives_the_slot_back(tmp_path: Path) -> None:
    """A request cancelled while its unit of work waits to close (a statement still
    running) must not keep its connection and slot for good."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'gate.sqlite'}")
    try:
        gate = Gate(size=1, timeout=1)
        first = UnitOfWork(make_sessionmaker(engine), None, gate)
        await first.connection()  # the only slot
        await first._lock.acquire()  # as a statement still running would
        closing = asyncio.create_task(first.close())
        await asyncio.sleep(0.01)
        closing.cancel()
        first._lock.release()
        with pytest.raises(asyncio.CancelledError):
            await closing
        second = UnitOfWork(make_sessionmaker(engine), None, gate)
        await second.connection()  # PoolTimeout after 1 s if the slot were lost
        await second.close()
    finally:
        await engine.dispose()


async def test_a_cancelled_waiter_gives_its_turn_to_the_next() -> None:
    gate = Gate(size=1, timeout=5)
    await gate.enter()
    first = asyncio.create_task(gate.enter())
    second = asyncio.create_task(gate.enter())
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    gate.leave()
    await asyncio.wait_for(second, 1)  # the slot skipped the cancelled waiter
    assert first.cancelled()
    gate.leave()
    await gate.enter()  # and nothing was lost on the way
    gate.leave()


async def test_waiters_time_out_in_arrival_order_and_take_no_slot() -> None:
    gate = Gate(size=1, timeout=0.05)
    await gate.enter()
    waiters = [asyncio.create_task(gate.enter()) for _ in range(3)]
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(outcome, PoolTimeout) for outcome in outcomes)
    gate.leave()
    await gate.enter()  # the one slot is free again
    late = asyncio.create_task(gate.enter())
    await asyncio.sleep(0.01)
    gate.leave()
    await asyncio.wait_for(late, 1)  # a later waiter is still served
    gate.leave()
