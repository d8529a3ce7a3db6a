"""Running steps side by side without leaving one behind when the other fails, and running
an operation to its end whatever happens to its caller."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar, cast

A = TypeVar("A")
B = TypeVar("B")
T = TypeVar("T")

# Operations whose caller went away, kept referenced until they end.
_ORPHANS: set[asyncio.Task[Any]] = set()


async def both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Await both concurrently and let both finish even when one fails, then re-raise the
    first failure: a rollback must never race a step still in flight (a thread writing
    files, a shim starting), and such steps cannot be cancelled half-way."""
    a, b = await asyncio.gather(first, second, return_exceptions=True)
    for outcome in (a, b):
        if isinstance(outcome, BaseException):
            raise outcome
    return cast(A, a), cast(B, b)


async def to_completion(operation: Coroutine[Any, Any, T]) -> T:
    """Run `operation` in a task of its own that a cancelled caller does not cancel: a
    start, stop or removal runs to its end with its locks held, and the next operation on
    the object waits for it instead of finding it half-done."""
    task = asyncio.ensure_future(operation)
    _ORPHANS.add(task)
    task.add_done_callback(_done)
    return await asyncio.shield(task)


def _done(task: asyncio.Task[Any]) -> None:
    _ORPHANS.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a caller that went away cannot re-raise it
