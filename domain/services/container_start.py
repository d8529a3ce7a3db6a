"""StartContainer: start the created task; a failed start leaves the container EXITED."""

from __future__ import annotations

from domain.errors import FailedPrecondition, HexcriError, NotFound
from domain.model import Container, ContainerState, SandboxState
from domain.services.concurrency import to_completion
from domain.services.context import Context
from domain.services.serial import holding


async def start_container(ctx: Context, container_id: str) -> None:
    """Serialised with every other operation on the container: of concurrent starts one
    starts it, the others find it no longer CREATED."""
    await to_completion(_start_held(ctx, ctx.containers.get(container_id)))


async def _start_held(ctx: Context, found: Container) -> None:
    async with holding(ctx, found) as container:
        if container is None:
            raise NotFound(f"container {found.id!r} not found")
        await _start(ctx, container)


async def _start(ctx: Context, container: Container) -> None:
    if container.state != ContainerState.CREATED:
        raise FailedPrecondition(f"container {container.id} is {container.state.name}, not CREATED")
    sandbox = ctx.sandboxes.find(container.sandbox_id)
    if sandbox is None or sandbox.state != SandboxState.READY:
        raise FailedPrecondition(f"sandbox {container.sandbox_id} is not ready")
    async with ctx.pods.changing(container) as uow:
        try:
            pid = await ctx.ports.runtime.start(container.id)
        except HexcriError as exc:
            container.mark_start_failed(str(exc), ctx.ports.clock.now_ns())
            await uow.commit()
            await ctx.ports.io.close(container.id)
            raise
        container.mark_started(pid, ctx.ports.clock.now_ns())
        await uow.commit()
