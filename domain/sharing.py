"""One piece of work per key, shared by everyone who asks for it while it runs, and stopped
when nobody waits for it any more (a pull whose clients all cancelled or timed out)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Work(Generic[T]):
    task: asyncio.Task[T]
    waiters: int = 0


class SharedWork(Generic[T]):
    """`run(key, start)` runs `start()` once per key at a time; concurrent callers await the
    same task. A caller that is cancelled stops waiting without disturbing the others; the
    last one to go cancels the work and waits for it to clean up after itself (an aborted
    ingest, a closed connection), so that what the caller does next finds it done."""

    def __init__(self) -> None:
        self._work: dict[str, _Work[T]] = {}

    def __len__(self) -> int:
        return len(self._work)

    def __contains__(self, key: object) -> bool:
        return key in self._work

    async def run(self, key: str, start: Callable[[], Coroutine[Any, Any, T]]) -> T:
        work = self._work.get(key)
        if work is None:
            work = _Work(asyncio.ensure_future(start()))
            self._work[key] = work
            work.task.add_done_callback(lambda task: self._finished(key, work))
        work.waiters += 1
        try:
            return await asyncio.shield(work.task)
        finally:
            work.waiters -= 1
            if not work.waiters and not work.task.done():
                self._forget(key, work)  # a caller arriving now starts afresh
                work.task.cancel()
                await asyncio.shield(asyncio.wait({work.task}))

    def _forget(self, key: str, work: _Work[T]) -> None:
        if self._work.get(key) is work:
            del self._work[key]

    def _finished(self, key: str, work: _Work[T]) -> None:
        self._forget(key, work)
        if not work.task.cancelled():
            work.task.exception()  # retrieved: the waiters re-raise it; none left is not "lost"
