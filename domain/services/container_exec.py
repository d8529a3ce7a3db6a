"""ExecSync and ReopenContainerLog: both need a running container."""

from __future__ import annotations

from collections.abc import Sequence

from domain.errors import FailedPrecondition, InvalidArgument, NotFound
from domain.model import Container, ContainerState, ExecResult
from domain.services.context import Context
from domain.services.serial import holding


def _running(ctx: Context, container_id: str) -> Container:
    container = ctx.containers.get(container_id)
    if container.state != ContainerState.RUNNING:
        raise FailedPrecondition(f"container {container.id} is not running")
    return container


async def exec_sync(
    ctx: Context, container_id: str, cmd: Sequence[str], timeout: int = 0
) -> ExecResult:
    """Run `cmd` in the container; a timeout of 0 waits for as long as it takes."""
    if not cmd:
        raise InvalidArgument("exec command must not be empty")
    container = _running(ctx, container_id)
    return await ctx.ports.runtime.exec_sync(container.id, cmd, timeout or None)


async def reopen_container_log(ctx: Context, container_id: str) -> None:
    """Serialised with the container's other operations (a removal closes its log)."""
    async with holding(ctx, ctx.containers.get(container_id)) as container:
        if container is None:
            raise NotFound(f"container {container_id!r} not found")
        if container.state != ContainerState.RUNNING:
            raise FailedPrecondition(f"container {container.id} is not running")
        await ctx.ports.io.reopen_log(container.id)
