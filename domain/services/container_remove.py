"""RemoveContainer: a running container is killed first; unknown IDs are already removed.

The answer comes once the container is gone from the CRI's view (its record and name); its
runtime container, snapshot and FIFOs are removed after, in the background (`Cleanups`)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.model import Container
from domain.services.cleanup import Cleanups
from domain.services.concurrency import to_completion
from domain.services.container_stop import ContainerStop
from domain.services.locks import ObjectLocks
from domain.services.serial import holding
from domain.services.unit_of_work import PodRepository
from ports.io import ContainerIO
from ports.runtime import ContainerRuntime


@dataclass(frozen=True)
class ContainerRemove:
    pods: PodRepository
    locks: ObjectLocks
    stop: ContainerStop
    runtime: ContainerRuntime
    io: ContainerIO
    cleanups: Cleanups

    async def remove_container(self, container_id: str) -> None:
        """Serialised with the container's other operations: a start waiting for the
        removal finds the container gone (NotFound), a removal waiting for a start removes
        what started."""
        found = self.pods.containers.find(container_id)
        if found is None:
            return
        await to_completion(self._remove_held(found))

    async def _remove_held(self, found: Container) -> None:
        async with holding(self.locks, self.pods.containers, found) as container:
            if container is not None:
                await self.remove_held(container)

    async def remove_held(self, container: Container, *, now: bool = False) -> None:
        """The removal itself, for a caller that holds the container's lock. `now`: the
        runtime's clean-up is done before the record goes (a sandbox removal, which deletes
        the pause task next); otherwise it runs after the answer."""
        await self.stop.stop_held(container, 0)
        if now:
            await self._clean_up(container.id)
        async with self.pods.changing(container) as uow:
            await uow.remove()
        if not now:
            self.cleanups.start(container.id, container.sandbox_id, self._clean_up(container.id))

    async def wait_clean_ups(self, timeout: float | None = None) -> None:
        """Until the clean-ups after the removals answered so far have ended (at most
        `timeout` seconds; what is left, recovery's sweep removes at start)."""
        await self.cleanups.wait(timeout=timeout)

    async def _clean_up(self, container_id: str) -> None:
        await self.io.close(container_id)
        await self.runtime.delete(container_id)
