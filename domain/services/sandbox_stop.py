"""StopPodSandbox: kill every container, then the pause container, then tear the network down."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from domain.model import Sandbox, SandboxState
from domain.pods import network_request
from domain.services.concurrency import to_completion
from domain.services.container_stop import ContainerStop
from domain.services.locks import ObjectLocks
from domain.services.serial import holding_in_sandbox
from domain.services.unit_of_work import PodRepository
from domain.signals import SIGKILL
from ports.network import NetworkNamespaces, PodNetwork
from ports.runtime import ContainerRuntime


@dataclass(frozen=True)
class SandboxStop:
    pods: PodRepository
    locks: ObjectLocks
    stop: ContainerStop
    runtime: ContainerRuntime
    network: PodNetwork
    netns: NetworkNamespaces
    kill_wait: float  # seconds to wait for the pause's exit after SIGKILL

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        """Idempotent: a stopped sandbox is stopped again, an unknown one is already
        stopped. Holds the sandbox's lock alone: its containers' operations wait, or are
        waited for."""
        found = self.pods.sandboxes.find(sandbox_id)
        if found is None:
            return
        await to_completion(self._stop_held(found.id))

    async def _stop_held(self, sandbox_id: str) -> None:
        async with self.locks.exclusive(sandbox_id):
            sandbox = self.pods.sandboxes.find(sandbox_id)
            if sandbox is not None:
                await self.stop_sandbox_held(sandbox)

    async def _stop_member(self, container_id: str) -> None:
        async with holding_in_sandbox(self.locks, self.pods.containers, container_id) as found:
            if found is not None:
                await self.stop.stop_held(found, 0)

    async def stop_sandbox_held(self, sandbox: Sandbox) -> None:
        """The stop itself, for a caller that holds the sandbox's lock alone."""
        members = [c.id for c in self.pods.containers.of_sandbox(sandbox.id)]
        await asyncio.gather(*(self._stop_member(c) for c in members))
        async with self.pods.changing(sandbox) as uow:
            if sandbox.state == SandboxState.READY:
                await self.runtime.kill(sandbox.id, SIGKILL)
                await self.pods.exits.wait(sandbox.id, self.kill_wait)
                sandbox.mark_not_ready()
                await self.runtime.reap(sandbox.id)
            elif sandbox.state == SandboxState.UNKNOWN:  # a failed run left it: finish it
                await self.runtime.delete(sandbox.id)
                sandbox.mark_not_ready()
            if not sandbox.config.host_network and sandbox.netns_path:
                await self.network.teardown(network_request(sandbox))
                await self.netns.remove(sandbox.netns_path)
                sandbox.netns_path = ""  # torn down: kubelet's repeated stops run no CNI DEL
            await uow.commit()
