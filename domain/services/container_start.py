"""StartContainer: start the created task; a failed start leaves the container EXITED."""

from __future__ import annotations

from domain.errors import FailedPrecondition, HexcriError
from domain.model import ContainerEventType, ContainerState, SandboxState
from domain.services.context import Context


async def start_container(ctx: Context, container_id: str) -> None:
    container = ctx.containers.get(container_id)
    if container.state != ContainerState.CREATED:
        raise FailedPrecondition(f"container {container.id} is {container.state.name}, not CREATED")
    sandbox = ctx.sandboxes.find(container.sandbox_id)
    if sandbox is None or sandbox.state != SandboxState.READY:
        raise FailedPrecondition(f"sandbox {container.sandbox_id} is not ready")
    try:
        pid = await ctx.ports.runtime.start(container.id)
    except HexcriError as exc:
        container.mark_start_failed(str(exc), ctx.ports.clock.now_ns())
        ctx.exits.set(container.id)
        await ctx.ports.state.put_container(container)
        await ctx.ports.io.close(container.id)
        raise
    container.mark_started(pid, ctx.ports.clock.now_ns())
    await ctx.ports.state.put_container(container)
    ctx.publish(container.id, container.sandbox_id, ContainerEventType.STARTED)
