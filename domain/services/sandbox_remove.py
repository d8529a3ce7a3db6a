"""RemovePodSandbox: stop what still runs, remove every container, then the sandbox."""

from __future__ import annotations

import asyncio

from domain.services.concurrency import to_completion
from domain.services.container_remove import remove_held
from domain.services.context import Context
from domain.services.sandbox_stop import stop_sandbox_held
from domain.services.serial import holding_in_sandbox


async def remove_pod_sandbox(ctx: Context, sandbox_id: str) -> None:
    """Idempotent: an unknown sandbox is already removed. Holds the sandbox's lock alone, then
    each container's, so no operation on them runs beside the removal or finds it half-done."""
    found = ctx.sandboxes.find(sandbox_id)
    if found is None:
        return
    await to_completion(_remove_held(ctx, found.id))


async def _remove_member(ctx: Context, container_id: str) -> None:
    async with holding_in_sandbox(ctx, container_id) as container:
        if container is not None:
            await remove_held(ctx, container, now=True)


async def _remove_held(ctx: Context, sandbox_id: str) -> None:
    async with ctx.locks.exclusive(sandbox_id):
        sandbox = ctx.sandboxes.find(sandbox_id)
        if sandbox is None:
            return
        await stop_sandbox_held(ctx, sandbox)
        members = [c.id for c in ctx.containers.of_sandbox(sandbox.id)]
        await asyncio.gather(*(_remove_member(ctx, c) for c in members))
        await ctx.cleanups.wait(sandbox.id)  # of containers removed before: the shim is shared
        await ctx.ports.runtime.delete(sandbox.id)
        await ctx.ports.files.remove(sandbox.id)
        async with ctx.pods.changing(sandbox) as uow:
            await uow.remove()
