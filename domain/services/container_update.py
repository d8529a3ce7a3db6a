"""UpdateContainerResources: applied to the container (its task, or the task a later start
makes) and kept for the status."""

from __future__ import annotations

from domain.errors import FailedPrecondition
from domain.model import ContainerState, LinuxResources
from domain.services.context import Context
from domain.spec.resources import linux_resources
from domain.validation.resources import check_resources


async def update_container_resources(
    ctx: Context, container_id: str, resources: LinuxResources
) -> None:
    container = ctx.containers.get(container_id)
    check_resources("linux", resources, ctx.settings.node)
    if container.state not in (ContainerState.CREATED, ContainerState.RUNNING):
        raise FailedPrecondition(f"container {container.id} is {container.state.name}")
    oci = linux_resources(resources, ctx.settings.node)
    await ctx.ports.runtime.update_resources(container.id, oci)
    container.resources = resources
    await ctx.ports.state.put_container(container)
