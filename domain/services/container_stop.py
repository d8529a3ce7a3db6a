"""StopContainer: the stop signal, a grace period, then SIGKILL."""

from __future__ import annotations

from dataclasses import dataclass

from domain.model import Container, ContainerState
from domain.services.concurrency import to_completion
from domain.services.locks import ObjectLocks
from domain.services.serial import holding
from domain.services.unit_of_work import PodRepository
from domain.signals import SIGKILL, parse_signal
from domain.store import ImageIndex
from ports.runtime import ContainerRuntime


@dataclass(frozen=True)
class ContainerStop:
    pods: PodRepository
    locks: ObjectLocks
    runtime: ContainerRuntime
    images: ImageIndex
    kill_wait: float  # seconds to wait for an exit after SIGKILL

    async def stop_container(self, container_id: str, timeout: int) -> None:
        """Idempotent: a container that is unknown or not running is already stopped."""
        found = self.pods.containers.find(container_id)
        if found is None:
            return
        await to_completion(self._stop_held(found, timeout))

    async def _stop_held(self, found: Container, timeout: int) -> None:
        async with holding(self.locks, self.pods.containers, found) as container:
            if container is not None:
                await self.stop_held(container, timeout)

    async def stop_held(self, container: Container, timeout: int) -> None:
        """The stop itself, for a caller that holds the container's lock."""
        if container.state != ContainerState.RUNNING:
            return
        exits = self.pods.exits
        if timeout > 0:
            image = self.images.resolve(container.image_id)
            name = container.config.stop_signal or (image.config.stop_signal if image else "")
            await self.runtime.kill(container.id, parse_signal(name))
            if await exits.wait(container.id, timeout):
                return
        await self.runtime.kill(container.id, SIGKILL)
        await exits.wait(container.id, self.kill_wait)
