"""Requests take a pool's connections in the order they asked, or time out waiting.

SQLAlchemy's asyncio pool lets a newcomer take a connection that was just checked in
before the waiter it was meant for runs, and a waiter that finds the pool empty again goes
to the back of the line: under steady load some requests wait until
`DB_POOL_TIMEOUT_SECONDS` (503) while others pass, and p99 is many times p50. A `Gate`
with a slot per pooled connection hands a freed slot to its longest waiter and lets no
newcomer pass one, so the pool behind it never has waiters.

It is a deque of futures, not a semaphore under `asyncio.timeout`: every waiter has the
same timeout, so the oldest waiter always expires first and one timer, set for it, serves
them all (a request that waits costs a future, not a future, a timeout and a timer).
"""

from __future__ import annotations

import asyncio
from collections import deque

from sqlalchemy.exc import TimeoutError as PoolTimeout


class Gate:
    """`size` slots; `enter()` waits at most `timeout` seconds for one (PoolTimeout)."""

    def __init__(self, size: int, timeout: float) -> None:
        self.size, self.timeout = size, timeout
        self._free = size
        self._waiters: deque[tuple[asyncio.Future[None], float]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    async def enter(self) -> None:
        if self._free and not self._waiters:
            self._free -= 1
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._waiters.append((future, loop.time() + self.timeout))
        if self._timer is None:
            self._arm(loop)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and future.exception() is None:
                self.leave()  # handed a slot just as it was cancelled: pass it on
            raise

    def leave(self) -> None:
        """Give a slot back: to the longest waiter still waiting, else to the free ones."""
        waiters = self._waiters
        while waiters:
            future, _ = waiters.popleft()
            if not future.done():
                future.set_result(None)
                return
        self._free += 1

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        """The timer for the oldest waiter still waiting, if any."""
        waiters = self._waiters
        while waiters and waiters[0][0].done():
            waiters.popleft()
        self._timer = loop.call_at(waiters[0][1], self._expire, loop) if waiters else None

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        waiters = self._waiters
        while waiters and (waiters[0][0].done() or waiters[0][1] <= now):
            future, _ = waiters.popleft()
            if not future.done():
                future.set_exception(PoolTimeout(f"no pooled connection within {self.timeout} s"))
        self._arm(loop)
