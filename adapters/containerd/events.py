"""Runtime events from containerd's event stream: task exits and OOM kills.

The subscription survives containerd restarts: it resubscribes with backoff and then
reconciles, emitting a `TaskExit` for every stopped task, since exits may have been published
while no one listened (the domain records each exit once, so repeats are harmless).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from adapters.containerd import api
from adapters.containerd.client import ContainerdClient
from adapters.containerd.wire import ts_ns
from domain.errors import HexcriError
from domain.model import TaskExit, TaskOOM

log = logging.getLogger(__name__)

EXIT_TOPIC = "/tasks/exit"
OOM_TOPIC = "/tasks/oom"
# An exit published just before the new subscription took effect is caught by a second look.
RECONCILE_AGAIN = 1.0


def decode(envelope: Any) -> TaskExit | TaskOOM | None:
    """The domain event in an envelope; None for exec exits and other topics."""
    kind = envelope.event.type_url.rsplit("/", 1)[-1]
    if envelope.topic == EXIT_TOPIC or kind == "containerd.events.TaskExit":
        exit_event = api.task_events.TaskExit()
        exit_event.ParseFromString(envelope.event.value)
        if exit_event.id and exit_event.id != exit_event.container_id:
            return None  # an exec process, not the container's init process
        return TaskExit(
            container_id=exit_event.container_id,
            exit_code=int(exit_event.exit_status),
            exited_at=ts_ns(exit_event.exited_at),
            pid=int(exit_event.pid),
        )
    if envelope.topic == OOM_TOPIC or kind == "containerd.events.TaskOOM":
        oom = api.task_events.TaskOOM()
        oom.ParseFromString(envelope.event.value)
        return TaskOOM(container_id=oom.container_id)
    return None


class ContainerdEvents:
    """Implements `ports.events.RuntimeEvents` on `Events.Subscribe`."""

    def __init__(
        self,
        client: ContainerdClient,
        *,
        initial_backoff: float = 0.1,
        max_backoff: float = 2.0,
    ) -> None:
        self._client = client
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff

    def _filters(self) -> list[str]:
        ns = self._client.namespace
        return [f'namespace=="{ns}",topic=="{topic}"' for topic in (EXIT_TOPIC, OOM_TOPIC)]

    async def stopped_tasks(self) -> list[TaskExit]:
        """A `TaskExit` for every stopped task containerd holds."""
        reply = await self._client.tasks.List(api.tasks.ListTasksRequest())
        return [
            TaskExit(
                container_id=task.id,
                exit_code=int(task.exit_status),
                exited_at=ts_ns(task.exited_at),
                pid=int(task.pid),
            )
            for task in reply.tasks
            if task.status == api.task_types.Status.STOPPED
        ]

    async def subscribe(self) -> AsyncIterator[TaskExit | TaskOOM]:
        delay = self._initial_backoff
        resubscribed = False
        while True:
            queue: asyncio.Queue[TaskExit | TaskOOM | BaseException | None] = asyncio.Queue()
            reader = asyncio.create_task(self._read(queue))
            recheck: asyncio.Task[list[TaskExit]] | None = None
            try:
                if resubscribed:
                    for event in await self.stopped_tasks():
                        yield event
                    recheck = asyncio.create_task(self._reconcile_later(RECONCILE_AGAIN))
                while True:
                    getter = asyncio.ensure_future(queue.get())
                    waits: set[asyncio.Future[Any]] = {getter}
                    if recheck is not None:
                        waits.add(recheck)
                    done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                    if recheck is not None and recheck in done:
                        finished, recheck = recheck, None
                        for event in finished.result():
                            yield event
                    if getter not in done:
                        getter.cancel()
                        continue
                    item = getter.result()
                    if item is None:
                        break  # the stream ended: containerd went away cleanly
                    if isinstance(item, BaseException):
                        raise item
                    delay = self._initial_backoff
                    yield item
            except HexcriError as err:
                log.warning("containerd event stream lost (%s); resubscribing in %.1fs", err, delay)
            finally:
                reader.cancel()
                if recheck is not None:
                    recheck.cancel()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_backoff)
            resubscribed = True

    async def _reconcile_later(self, delay: float) -> list[TaskExit]:
        await asyncio.sleep(delay)
        return await self.stopped_tasks()

    async def _read(self, queue: asyncio.Queue[TaskExit | TaskOOM | BaseException | None]) -> None:
        """Pump the subscription into `queue`; None at its end, the error if it failed."""
        try:
            stream = self._client.events.Subscribe(
                api.events.SubscribeRequest(filters=self._filters())
            )
            async for envelope in stream:
                event = decode(envelope)
                if event is not None:
                    queue.put_nowait(event)
        except HexcriError as err:
            queue.put_nowait(err)
            return
        queue.put_nowait(None)
