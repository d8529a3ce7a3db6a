"""StopPodSandbox: kill every container, then the pause container, then tear the network down."""

from __future__ import annotations

import asyncio

from domain.model import Sandbox, SandboxState
from domain.pods import network_request
from domain.services.concurrency import to_completion
from domain.services.container_stop import stop_held
from domain.services.context import Context
from domain.services.serial import holding_in_sandbox
from domain.signals import SIGKILL


async def stop_pod_sandbox(ctx: Context, sandbox_id: str) -> None:
    """Idempotent: a stopped sandbox is stopped again, an unknown one is already stopped.
    Holds the sandbox's lock alone: its containers' operations wait, or are waited for."""
    found = ctx.sandboxes.find(sandbox_id)
    if found is None:
        return
    await to_completion(_stop_held(ctx, found.id))


async def _stop_held(ctx: Context, sandbox_id: str) -> None:
    async with ctx.locks.exclusive(sandbox_id):
        sandbox = ctx.sandboxes.find(sandbox_id)
        if sandbox is not None:
            await stop_sandbox_held(ctx, sandbox)


async def _stop_member(ctx: Context, container_id: str) -> None:
    async with holding_in_sandbox(ctx, container_id) as container:
        if container is not None:
            await stop_held(ctx, container, 0)


async def stop_sandbox_held(ctx: Context, sandbox: Sandbox) -> None:
    """The stop itself, for a caller that holds the sandbox's lock alone."""
    members = [c.id for c in ctx.containers.of_sandbox(sandbox.id)]
    await asyncio.gather(*(_stop_member(ctx, c) for c in members))
    async with ctx.pods.changing(sandbox) as uow:
        if sandbox.state == SandboxState.READY:
            await ctx.ports.runtime.kill(sandbox.id, SIGKILL)
            await ctx.exits.wait(sandbox.id, ctx.settings.stop_kill_wait)
            sandbox.mark_not_ready()
            await ctx.ports.runtime.reap(sandbox.id)
        elif sandbox.state == SandboxState.UNKNOWN:  # a failed run left it: what is left goes
            await ctx.ports.runtime.delete(sandbox.id)
            sandbox.mark_not_ready()
        if not sandbox.config.host_network and sandbox.netns_path:
            await ctx.ports.network.teardown(network_request(sandbox))
            await ctx.ports.netns.remove(sandbox.netns_path)
            sandbox.netns_path = ""  # torn down: kubelet's repeated stops run no CNI DEL again
        await uow.commit()
