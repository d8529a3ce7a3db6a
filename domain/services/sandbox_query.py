"""PodSandboxStatus, ListPodSandbox and sandbox stats: answered from the stores."""

from __future__ import annotations

import asyncio

from domain.filters import SandboxFilter, match_sandbox, validate_selector
from domain.model import ContainerState, ContainerStats, Sandbox, SandboxState
from domain.services.context import Context


def pod_sandbox_status(ctx: Context, sandbox_id: str) -> Sandbox:
    return ctx.sandboxes.get(sandbox_id)


def list_pod_sandboxes(ctx: Context, f: SandboxFilter | None = None) -> list[Sandbox]:
    if f is None:
        return ctx.sandboxes.all()
    validate_selector(f.label_selector)
    return [s for s in ctx.sandboxes.all() if match_sandbox(f, s)]


async def pod_sandbox_stats(ctx: Context, sandbox_id: str) -> tuple[Sandbox, list[ContainerStats]]:
    """The sandbox with the stats of each of its running containers."""
    sandbox = ctx.sandboxes.get(sandbox_id)
    running = [
        c for c in ctx.containers.of_sandbox(sandbox.id) if c.state == ContainerState.RUNNING
    ]
    stats = await asyncio.gather(*(ctx.ports.runtime.stats(c.id) for c in running))
    return sandbox, list(stats)


async def list_pod_sandbox_stats(
    ctx: Context, f: SandboxFilter | None = None
) -> list[tuple[Sandbox, list[ContainerStats]]]:
    ready = [s for s in list_pod_sandboxes(ctx, f) if s.state == SandboxState.READY]
    return list(await asyncio.gather(*(pod_sandbox_stats(ctx, s.id) for s in ready)))
