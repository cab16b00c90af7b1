"""Run a level's coroutines side by side without a Task each.

`asyncio.gather` wraps every coroutine in a Task: a hundred resolvers of one level (each
awaiting one loader) cost a hundred Tasks and their scheduling, a tenth of q2's CPU. Here
each coroutine is stepped by hand until it awaits a Future (a loader's, a lock's, a
driver's); the level then waits until one of those futures is done and steps the
coroutines whose futures are, until every coroutine has returned or raised (never all of
them at once: one may wait on a lock another holds). The loaders see the same `load()` calls in the
same loop iteration, so they batch exactly as under `gather`. What a coroutine yields
other than a Future (a bare `yield` of `asyncio.sleep(0)`) is resumed on the next round.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine, Sequence
from inspect import iscoroutine
from typing import Any


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


async def run_all(awaitables: Sequence[Awaitable[Any]]) -> list[Any]:
    """Each awaitable's result or the exception it raised, in order (gather's
    `return_exceptions=True`). A BaseException that is not an Exception propagates."""
    outcomes: list[Any] = [None] * len(awaitables)
    running: list[tuple[int, Coroutine[Any, Any, Any], Any]] = []
    coroutines = [a if iscoroutine(a) else _await(a) for a in awaitables]
    try:
        for index, coroutine in enumerate(coroutines):
            _step(index, coroutine, outcomes, running)
        while running:
            futures = {future for _, _, future in running if future is not None}
            if futures:
                # Not all of them: one may wait on another (a lock its holder releases).
                await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)
            else:
                await asyncio.sleep(0)
            current, running = running, []
            for index, coroutine, future in current:
                if future is None or future.done():
                    _step(index, coroutine, outcomes, running)
                else:
                    running.append((index, coroutine, future))
    finally:
        for _, coroutine, _ in running:
            coroutine.close()
    return outcomes


def _step(
    index: int,
    coroutine: Coroutine[Any, Any, Any],
    outcomes: list[Any],
    running: list[tuple[int, Coroutine[Any, Any, Any], Any]],
) -> None:
    try:
        yielded = coroutine.send(None)
    except StopIteration as stop:
        outcomes[index] = stop.value
        return
    except Exception as error:
        outcomes[index] = error
        return
    if yielded is None:
        running.append((index, coroutine, None))
    elif getattr(yielded, "_asyncio_future_blocking", None) is not None:
        yielded._asyncio_future_blocking = False  # as a Task does before it waits
        running.append((index, coroutine, yielded))
    else:
        coroutine.close()
        outcomes[index] = RuntimeError(f"a resolver yielded {yielded!r}, not a Future")
