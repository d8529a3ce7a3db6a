"""Clean-up after the answer: what a removal leaves in the runtime once the object is gone
from the CRI's view (the runtime container, its snapshot, its FIFOs). If hexcri stops before
it ends, recovery's sweep removes the runtime containers that no record owns."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Cleanups:
    """The clean-ups in flight, by object ID and the sandbox they belong to."""

    def __init__(self) -> None:
        self._tasks: dict[str, tuple[str, asyncio.Task[None]]] = {}

    def start(self, object_id: str, sandbox_id: str, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in the background; a failure is logged (recovery retries at start)."""
        task = asyncio.ensure_future(_logged(object_id, work))
        self._tasks[object_id] = (sandbox_id, task)
        task.add_done_callback(lambda _: self._forget(object_id, task))

    def _forget(self, object_id: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(object_id, ("", None))[1] is task:
            del self._tasks[object_id]

    async def wait(self, sandbox_id: str | None = None, timeout: float | None = None) -> None:
        """Until the clean-ups of `sandbox_id`'s objects (all, for None) have ended."""
        tasks = [t for s, t in self._tasks.values() if sandbox_id is None or s == sandbox_id]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    def __len__(self) -> int:
        return len(self._tasks)


async def _logged(object_id: str, work: Coroutine[Any, Any, None]) -> None:
    try:
        await work
    except Exception as exc:
        log.warning("clean-up of %s failed (recovery retries at start): %s", object_id, exc)
