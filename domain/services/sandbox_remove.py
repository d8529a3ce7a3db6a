"""RemovePodSandbox: stop what still runs, remove every container, then the sandbox."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from domain.services.cleanup import Cleanups
from domain.services.concurrency import to_completion
from domain.services.container_remove import ContainerRemove
from domain.services.locks import ObjectLocks
from domain.services.sandbox_stop import SandboxStop
from domain.services.serial import holding_in_sandbox
from domain.services.unit_of_work import PodRepository
from ports.files import SandboxFiles
from ports.runtime import ContainerRuntime


@dataclass(frozen=True)
class SandboxRemove:
    pods: PodRepository
    locks: ObjectLocks
    stop: SandboxStop
    remove: ContainerRemove
    runtime: ContainerRuntime
    files: SandboxFiles
    cleanups: Cleanups

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        """Idempotent: an unknown sandbox is already removed. Holds the sandbox's lock
        alone, then each container's, so no operation on them runs beside the removal or
        finds it half-done."""
        found = self.pods.sandboxes.find(sandbox_id)
        if found is None:
            return
        await to_completion(self._remove_held(found.id))

    async def _remove_member(self, container_id: str) -> None:
        async with holding_in_sandbox(self.locks, self.pods.containers, container_id) as found:
            if found is not None:
                await self.remove.remove_held(found, now=True)

    async def _remove_held(self, sandbox_id: str) -> None:
        async with self.locks.exclusive(sandbox_id):
            sandbox = self.pods.sandboxes.find(sandbox_id)
            if sandbox is None:
                return
            await self.stop.stop_sandbox_held(sandbox)
            members = [c.id for c in self.pods.containers.of_sandbox(sandbox.id)]
            await asyncio.gather(*(self._remove_member(c) for c in members))
            await self.cleanups.wait(sandbox.id)  # of containers removed before: shared shim
            await self.runtime.delete(sandbox.id)
            await self.files.remove(sandbox.id)
            async with self.pods.changing(sandbox) as uow:
                await uow.remove()
