"""StopContainer: the stop signal, a grace period, then SIGKILL."""

from __future__ import annotations

from domain.model import ContainerState
from domain.services.context import Context
from domain.signals import SIGKILL, parse_signal


async def stop_container(ctx: Context, container_id: str, timeout: int) -> None:
    """Idempotent: a container that is unknown or not running is already stopped."""
    container = ctx.containers.find(container_id)
    if container is None or container.state != ContainerState.RUNNING:
        return
    if timeout > 0:
        image = ctx.images.resolve(container.image_id)
        name = container.config.stop_signal or (image.config.stop_signal if image else "")
        await ctx.ports.runtime.kill(container.id, parse_signal(name))
        if await ctx.exits.wait(container.id, timeout):
            return
    await ctx.ports.runtime.kill(container.id, SIGKILL)
    await ctx.exits.wait(container.id, ctx.settings.stop_kill_wait)
