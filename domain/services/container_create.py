"""CreateContainer: reserve the name, build the spec, open stdio, create in the runtime."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from domain.errors import FailedPrecondition, NotFound
from domain.ids import new_id
from domain.model import (
    Container,
    ContainerConfig,
    ContainerState,
    NamespaceMode,
    Sandbox,
    SandboxState,
)
from domain.names import container_name
from domain.pods import KIND_LABEL, SANDBOX_ID_LABEL, log_path
from domain.services.locks import ObjectLocks
from domain.services.profiles import seccomp_profile
from domain.services.unit_of_work import PodRepository
from domain.spec import HostDevice, NodeOptions, container_spec
from domain.store import ImageIndex
from domain.validation.container import check_container
from domain.validation.text import quote
from ports.clock import Clock
from ports.devices import HostDeviceLookup
from ports.files import SandboxFiles
from ports.io import ContainerIO
from ports.profiles import SecurityProfiles
from ports.runtime import ContainerRuntime, CreateRequest

__all__ = ["ContainerCreate", "log_path"]


@dataclass(frozen=True)
class ContainerCreate:
    pods: PodRepository
    locks: ObjectLocks
    images: ImageIndex
    runtime: ContainerRuntime
    io: ContainerIO
    files: SandboxFiles
    devices: HostDeviceLookup
    profiles: SecurityProfiles
    clock: Clock
    node: NodeOptions

    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str:
        """Create a container in a READY sandbox; returns its ID. Nothing is left on
        failure (or, where an undo step failed, a container listed UNKNOWN for Remove).
        Holds the sandbox's lock shared: a stop or removal of the sandbox waits for it."""
        found = self.pods.sandboxes.get(sandbox_id)
        check_container(config, found.config, self.node)
        async with self.locks.shared(found.id):
            return await self._create(self.pods.sandboxes.get(found.id), config)

    def _target_pid(self, config: ContainerConfig) -> int | None:
        """The pid whose PID namespace a TARGET-mode container joins."""
        options = config.security.namespace_options
        if options.pid != NamespaceMode.TARGET:
            return None
        target = self.pods.containers.get(options.target_id)
        if target.state != ContainerState.RUNNING:
            raise FailedPrecondition(f"target container {target.id} is not running")
        return target.pid

    async def _host_devices(self, config: ContainerConfig) -> dict[str, list[HostDevice]]:
        """The host's device nodes behind each device the container asks for."""
        paths = [d.host_path for d in config.devices]
        found = await asyncio.gather(*(self.devices.lookup(p) for p in paths))
        return dict(zip(paths, found, strict=True))

    async def _create(self, sandbox: Sandbox, config: ContainerConfig) -> str:
        if sandbox.state != SandboxState.READY:
            raise FailedPrecondition(f"sandbox {sandbox.id} is not ready")
        image = self.images.resolve(config.image)
        if image is None:
            raise NotFound(f"image {quote(config.image)} not found: pull it first")
        container = Container(
            id=new_id(),
            sandbox_id=sandbox.id,
            config=config,
            image_id=image.id,
            image_ref=image.repo_digests[0] if image.repo_digests else image.id,
            created_at=self.clock.now_ns(),
            resources=config.resources,
        )
        async with self.pods.creating(container, container_name(config, sandbox)) as uow:
            security = config.security
            spec = container_spec(
                container,
                sandbox,
                image,
                self.node,
                target_pid=self._target_pid(config),
                devices=await self._host_devices(config),
                seccomp_profile=await seccomp_profile(
                    self.profiles, security.seccomp, security.privileged
                ),
            )
            await uow.record()
            await asyncio.gather(*(self.files.ensure_dir(m.host_path) for m in config.mounts))
            uow.on_rollback("close stdio", lambda: self.io.close(container.id))
            stdio = await self.io.open(
                container.id, log_path(config, sandbox), config.tty, config.stdin
            )
            uow.on_rollback("delete container", lambda: self.runtime.delete(container.id))
            await self.runtime.create(
                CreateRequest(
                    id=container.id,
                    sandbox_id=sandbox.id,
                    image=image,
                    spec=spec,
                    labels={KIND_LABEL: "container", SANDBOX_ID_LABEL: sandbox.id},
                    stdio=stdio,
                )
            )
            await uow.commit()
        return container.id
