"""StopPodSandbox: kill every container, then the pause container, then tear the network down."""

from __future__ import annotations

import asyncio

from domain.model import ContainerState, SandboxState
from domain.services.container_stop import stop_container
from domain.services.context import Context
from domain.services.sandbox_run import network_request
from domain.signals import SIGKILL


async def stop_pod_sandbox(ctx: Context, sandbox_id: str) -> None:
    """Idempotent: a stopped sandbox is stopped again, an unknown one is already stopped."""
    sandbox = ctx.sandboxes.find(sandbox_id)
    if sandbox is None:
        return
    running = [
        c for c in ctx.containers.of_sandbox(sandbox.id) if c.state == ContainerState.RUNNING
    ]
    await asyncio.gather(*(stop_container(ctx, c.id, 0) for c in running))
    if sandbox.state == SandboxState.READY:
        await ctx.ports.runtime.kill(sandbox.id, SIGKILL)
        await ctx.exits.wait(sandbox.id, ctx.settings.stop_kill_wait)
        sandbox.mark_not_ready()
        await ctx.ports.runtime.reap(sandbox.id)
    if not sandbox.config.host_network and sandbox.netns_path:
        await ctx.ports.network.teardown(network_request(sandbox))
        await ctx.ports.netns.remove(sandbox.netns_path)
        sandbox.netns_path = ""  # torn down: kubelet's repeated stops run no CNI DEL again
    await ctx.ports.state.put_sandbox(sandbox)
