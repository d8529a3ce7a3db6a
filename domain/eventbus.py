"""Container lifecycle events fanned out to GetContainerEvents subscribers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from domain.model import ContainerEvent

QUEUE_SIZE = 1000


class EventBus:
    """Publishes without blocking; a subscriber that falls too far behind loses events."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[ContainerEvent]] = set()

    def publish(self, event: ContainerEvent) -> None:
        for queue in self._queues:
            if queue.full():
                continue
            queue.put_nowait(event)

    async def subscribe(self) -> AsyncIterator[ContainerEvent]:
        queue: asyncio.Queue[ContainerEvent] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.discard(queue)
