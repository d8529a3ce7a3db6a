"""StopContainer: the stop signal, a grace period, then SIGKILL."""

from __future__ import annotations

from domain.model import Container, ContainerState
from domain.services.concurrency import to_completion
from domain.services.context import Context
from domain.services.serial import holding
from domain.signals import SIGKILL, parse_signal


async def stop_container(ctx: Context, container_id: str, timeout: int) -> None:
    """Idempotent: a container that is unknown or not running is already stopped."""
    found = ctx.containers.find(container_id)
    if found is None:
        return
    await to_completion(_stop_held(ctx, found, timeout))


async def _stop_held(ctx: Context, found: Container, timeout: int) -> None:
    async with holding(ctx, found) as container:
        if container is not None:
            await stop_held(ctx, container, timeout)


async def stop_held(ctx: Context, container: Container, timeout: int) -> None:
    """The stop itself, for a caller that holds the container's lock."""
    if container.state != ContainerState.RUNNING:
        return
    if timeout > 0:
        image = ctx.images.resolve(container.image_id)
        name = container.config.stop_signal or (image.config.stop_signal if image else "")
        await ctx.ports.runtime.kill(container.id, parse_signal(name))
        if await ctx.exits.wait(container.id, timeout):
            return
    await ctx.ports.runtime.kill(container.id, SIGKILL)
    await ctx.exits.wait(container.id, ctx.settings.stop_kill_wait)
