"""StartContainer: start the created task; a failed start leaves the container EXITED."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import FailedPrecondition, HexcriError, NotFound
from domain.model import Container, ContainerState, SandboxState
from domain.services.concurrency import to_completion
from domain.services.locks import ObjectLocks
from domain.services.serial import holding
from domain.services.unit_of_work import PodRepository
from ports.clock import Clock
from ports.io import ContainerIO
from ports.runtime import ContainerRuntime


@dataclass(frozen=True)
class ContainerStart:
    pods: PodRepository
    locks: ObjectLocks
    runtime: ContainerRuntime
    io: ContainerIO
    clock: Clock

    async def start_container(self, container_id: str) -> None:
        """Serialised with every other operation on the container: of concurrent starts one
        starts it, the others find it no longer CREATED."""
        await to_completion(self._start_held(self.pods.containers.get(container_id)))

    async def _start_held(self, found: Container) -> None:
        async with holding(self.locks, self.pods.containers, found) as container:
            if container is None:
                raise NotFound(f"container {found.id!r} not found")
            await self._start(container)

    async def _start(self, container: Container) -> None:
        if container.state != ContainerState.CREATED:
            raise FailedPrecondition(
                f"container {container.id} is {container.state.name}, not CREATED"
            )
        sandbox = self.pods.sandboxes.find(container.sandbox_id)
        if sandbox is None or sandbox.state != SandboxState.READY:
            raise FailedPrecondition(f"sandbox {container.sandbox_id} is not ready")
        async with self.pods.changing(container) as uow:
            try:
                pid = await self.runtime.start(container.id)
            except HexcriError as exc:
                container.mark_start_failed(str(exc), self.clock.now_ns())
                await uow.commit()
                await self.io.close(container.id)
                raise
            container.mark_started(pid, self.clock.now_ns())
            await uow.commit()
