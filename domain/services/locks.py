"""Per-object locks that serialise the operations on one sandbox or container.

Every container operation holds its sandbox's lock shared and its own alone; StopPodSandbox
and RemovePodSandbox hold the sandbox's lock alone, then each container's. Locks are always
taken in that order (sandbox, then container), so they cannot deadlock. Waiters are served
first come, first served (a sandbox operation is not starved by its containers' operations),
and a key's entry is forgotten as soon as nobody holds or awaits it: the table does not grow
with the objects that come and go.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

Waiter = tuple[bool, "asyncio.Future[None]"]  # (exclusive, resolved when granted)


@dataclass
class _Entry:
    readers: int = 0
    writer: bool = False
    queue: deque[Waiter] = field(default_factory=deque)

    def admits(self, exclusive: bool) -> bool:
        return not self.writer and (not exclusive or self.readers == 0)

    def take(self, exclusive: bool) -> None:
        if exclusive:
            self.writer = True
        else:
            self.readers += 1

    @property
    def idle(self) -> bool:
        return not self.writer and self.readers == 0 and not self.queue


class ObjectLocks:
    """Shared/exclusive locks by object ID, made on first use and dropped when idle."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        """How many objects have a lock held or awaited right now."""
        return len(self._entries)

    @contextlib.asynccontextmanager
    async def exclusive(self, key: str) -> AsyncIterator[None]:
        """Hold `key` alone."""
        await self._acquire(key, True)
        try:
            yield
        finally:
            self._release(key, True)

    @contextlib.asynccontextmanager
    async def shared(self, key: str) -> AsyncIterator[None]:
        """Hold `key` beside other shared holders (never beside an exclusive one)."""
        await self._acquire(key, False)
        try:
            yield
        finally:
            self._release(key, False)

    async def _acquire(self, key: str, exclusive: bool) -> None:
        entry = self._entries.setdefault(key, _Entry())
        if not entry.queue and entry.admits(exclusive):
            entry.take(exclusive)
            return
        waiter: Waiter = (exclusive, asyncio.get_running_loop().create_future())
        entry.queue.append(waiter)
        try:
            await waiter[1]
        except BaseException:
            if waiter[1].done() and not waiter[1].cancelled():
                self._release(key, exclusive)  # granted as it was cancelled: give it back
            else:
                with contextlib.suppress(ValueError):
                    entry.queue.remove(waiter)
                self._wake(key, entry)  # those queued behind it may go now
            raise

    def _release(self, key: str, exclusive: bool) -> None:
        entry = self._entries[key]
        if exclusive:
            entry.writer = False
        else:
            entry.readers -= 1
        self._wake(key, entry)

    def _wake(self, key: str, entry: _Entry) -> None:
        while entry.queue and entry.admits(entry.queue[0][0]):
            exclusive, granted = entry.queue.popleft()
            if granted.done():  # cancelled while queued: its owner cleans up
                continue
            entry.take(exclusive)
            granted.set_result(None)
        if entry.idle and self._entries.get(key) is entry:
            del self._entries[key]
