"""RemovePodSandbox: stop what still runs, remove every container, then the sandbox."""

from __future__ import annotations

import asyncio

from domain.services.container_remove import remove_container
from domain.services.context import Context
from domain.services.sandbox_stop import stop_pod_sandbox


async def remove_pod_sandbox(ctx: Context, sandbox_id: str) -> None:
    """Idempotent: an unknown sandbox is already removed."""
    sandbox = ctx.sandboxes.find(sandbox_id)
    if sandbox is None:
        return
    await stop_pod_sandbox(ctx, sandbox.id)
    await asyncio.gather(
        *(remove_container(ctx, c.id) for c in ctx.containers.of_sandbox(sandbox.id))
    )
    await ctx.ports.runtime.delete(sandbox.id)
    await ctx.ports.files.remove(sandbox.id)
    await ctx.ports.state.delete_sandbox(sandbox.id)
    ctx.sandboxes.remove(sandbox.id)
    ctx.exits.forget(sandbox.id)
    ctx.names.release(sandbox.name)
