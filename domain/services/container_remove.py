"""RemoveContainer: a running container is killed first; unknown IDs are already removed.

The answer comes once the container is gone from the CRI's view (its record and name); its
runtime container, snapshot and FIFOs are removed after, in the background (`Cleanups`)."""

from __future__ import annotations

from domain.model import Container
from domain.services.concurrency import to_completion
from domain.services.container_stop import stop_held
from domain.services.context import Context
from domain.services.serial import holding


async def remove_container(ctx: Context, container_id: str) -> None:
    """Serialised with the container's other operations: a start waiting for the removal
    finds the container gone (NotFound), a removal waiting for a start removes what started."""
    found = ctx.containers.find(container_id)
    if found is None:
        return
    await to_completion(_remove_held(ctx, found))


async def _remove_held(ctx: Context, found: Container) -> None:
    async with holding(ctx, found) as container:
        if container is not None:
            await remove_held(ctx, container)


async def remove_held(ctx: Context, container: Container, *, now: bool = False) -> None:
    """The removal itself, for a caller that holds the container's lock. `now`: the
    runtime's clean-up is done before the record goes (a sandbox removal, which deletes the
    pause task next); otherwise it runs after the answer."""
    await stop_held(ctx, container, 0)
    if now:
        await _clean_up(ctx, container.id)
    async with ctx.pods.changing(container) as uow:
        await uow.remove()
    if not now:
        ctx.cleanups.start(container.id, container.sandbox_id, _clean_up(ctx, container.id))


async def _clean_up(ctx: Context, container_id: str) -> None:
    await ctx.ports.io.close(container_id)
    await ctx.ports.runtime.delete(container_id)
