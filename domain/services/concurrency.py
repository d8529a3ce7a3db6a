"""Running steps side by side without leaving one behind when the other fails."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar, cast

A = TypeVar("A")
B = TypeVar("B")


async def both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Await both concurrently and let both finish even when one fails, then re-raise the
    first failure: a rollback must never race a step still in flight (a thread writing
    files, a shim starting), and such steps cannot be cancelled half-way."""
    a, b = await asyncio.gather(first, second, return_exceptions=True)
    for outcome in (a, b):
        if isinstance(outcome, BaseException):
            raise outcome
    return cast(A, a), cast(B, b)
