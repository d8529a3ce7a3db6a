"""Runtime events: task exits and OOM kills recorded in the stores and the state."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from domain.model import TaskExit, TaskOOM
from domain.services.unit_of_work import PodRepository
from ports.clock import Clock
from ports.events import RuntimeEvents
from ports.io import ContainerIO
from ports.runtime import ContainerRuntime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Exits:
    pods: PodRepository
    runtime: ContainerRuntime
    io: ContainerIO
    events: RuntimeEvents
    clock: Clock

    async def handle_event(self, event: TaskExit | TaskOOM) -> None:
        if isinstance(event, TaskOOM):
            container = self.pods.containers.lookup(event.container_id)
            if container is not None and not container.oom_killed:
                async with self.pods.changing(container) as uow:
                    container.oom_killed = True  # the exit's reason, once it is recorded
                    await uow.commit()
            return
        await self.record_exit(event)

    async def record_exit(self, event: TaskExit) -> None:
        """Record an exit once: repeats (a reconciliation after a reconnect) change
        nothing."""
        pods = self.pods
        container = pods.containers.lookup(event.container_id)
        if container is not None:
            if container.finished_at:
                pods.exits.set(container.id)
                return
            await self.io.close(container.id)  # the log is complete once the status says so
            async with pods.changing(container) as uow:
                container.mark_exited(event.exit_code, event.exited_at or self.clock.now_ns())
                await uow.commit()  # with the exit signal and the STOPPED event
            await self.runtime.reap(container.id)
            return
        sandbox = pods.sandboxes.find(event.container_id) if len(event.container_id) == 64 else None
        if sandbox is not None:
            async with pods.changing(sandbox) as uow:
                sandbox.mark_not_ready()
                await uow.commit()
        pods.exits.set(event.container_id)

    async def watch_runtime_events(self) -> None:
        """Consume the runtime's event stream until cancelled."""
        async for event in self.events.subscribe():
            try:
                await self.handle_event(event)
            except Exception:
                log.exception("failed to handle runtime event %s", event)
