"""UpdateContainerResources: applied to the container (its task, or the task a later start
makes) and kept for the status."""

from __future__ import annotations

from domain.errors import FailedPrecondition, NotFound
from domain.model import Container, ContainerState, LinuxResources
from domain.services.context import Context
from domain.services.serial import holding
from domain.spec.resources import updated_resources
from domain.validation.resources import check_resources


async def update_container_resources(
    ctx: Context, container_id: str, resources: LinuxResources
) -> None:
    found = ctx.containers.get(container_id)
    check_resources("linux", resources, ctx.settings.node)
    async with holding(ctx, found) as container:
        if container is None:
            raise NotFound(f"container {found.id!r} not found")
        await _update(ctx, container, resources)


async def _update(ctx: Context, container: Container, resources: LinuxResources) -> None:
    if container.state not in (ContainerState.CREATED, ContainerState.RUNNING):
        raise FailedPrecondition(f"container {container.id} is {container.state.name}")
    oci = updated_resources(container.resources, resources, ctx.settings.node)
    await ctx.ports.runtime.update_resources(container.id, oci)
    container.resources = resources
    await ctx.ports.state.put_container(container)
