"""RemoveContainer: a running container is killed first; unknown IDs are already removed."""

from __future__ import annotations

from domain.model import ContainerEventType
from domain.services.container_create import reserved_name
from domain.services.container_stop import stop_container
from domain.services.context import Context


async def remove_container(ctx: Context, container_id: str) -> None:
    container = ctx.containers.find(container_id)
    if container is None:
        return
    await stop_container(ctx, container.id, 0)
    await ctx.ports.io.close(container.id)
    await ctx.ports.runtime.delete(container.id)
    await ctx.ports.state.delete_container(container.id)
    ctx.containers.remove(container.id)
    ctx.exits.forget(container.id)
    sandbox = ctx.sandboxes.find(container.sandbox_id)
    if sandbox is not None:
        ctx.names.release(reserved_name(container.config, sandbox))
    ctx.publish(container.id, container.sandbox_id, ContainerEventType.DELETED)
