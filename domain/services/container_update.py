"""UpdateContainerResources: applied to the container (its task, or the task a later start
makes) and kept for the status."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import FailedPrecondition, NotFound
from domain.model import Container, ContainerState, LinuxResources
from domain.services.locks import ObjectLocks
from domain.services.serial import holding
from domain.services.unit_of_work import PodRepository
from domain.spec import NodeOptions
from domain.spec.resources import updated_resources
from domain.validation.resources import check_resources
from ports.runtime import ContainerRuntime


@dataclass(frozen=True)
class ContainerUpdate:
    pods: PodRepository
    locks: ObjectLocks
    runtime: ContainerRuntime
    node: NodeOptions

    async def update_container_resources(
        self, container_id: str, resources: LinuxResources
    ) -> None:
        found = self.pods.containers.get(container_id)
        check_resources("linux", resources, self.node)
        async with holding(self.locks, self.pods.containers, found) as container:
            if container is None:
                raise NotFound(f"container {found.id!r} not found")
            await self._update(container, resources)

    async def _update(self, container: Container, resources: LinuxResources) -> None:
        if container.state not in (ContainerState.CREATED, ContainerState.RUNNING):
            raise FailedPrecondition(f"container {container.id} is {container.state.name}")
        oci = updated_resources(container.resources, resources, self.node)
        async with self.pods.changing(container) as uow:
            await self.runtime.update_resources(container.id, oci)
            current = container.resources
            container.resources = resources if current is None else current.overlaid(resources)
            await uow.commit()
