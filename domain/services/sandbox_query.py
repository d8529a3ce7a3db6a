"""PodSandboxStatus, ListPodSandbox and sandbox stats: answered from the stores."""

from __future__ import annotations

import asyncio
import logging

from domain.errors import NotFound
from domain.filters import SandboxFilter, match_sandbox, validate_selector
from domain.model import (
    ContainerState,
    ContainerStats,
    InterfaceStats,
    PodStats,
    Sandbox,
    SandboxState,
)
from domain.services.container_query import forget_removed, stats_if_running
from domain.services.context import Context
from domain.stats import pod_interfaces, pod_usage

log = logging.getLogger(__name__)


def pod_sandbox_status(ctx: Context, sandbox_id: str) -> Sandbox:
    return ctx.sandboxes.get(sandbox_id)


def list_pod_sandboxes(ctx: Context, f: SandboxFilter | None = None) -> list[Sandbox]:
    if f is None:
        return ctx.sandboxes.all()
    validate_selector(f.label_selector)
    return [s for s in ctx.sandboxes.all() if match_sandbox(f, s)]


async def pod_sandbox_stats(ctx: Context, sandbox_id: str) -> tuple[Sandbox, PodStats]:
    """The sandbox's cpu and memory (its pause and running containers together), the
    counters of its network interfaces, its process count and its containers' stats. A pod
    that is not ready has nothing running: its stats are empty."""
    sandbox = ctx.sandboxes.get(sandbox_id)
    now = ctx.ports.clock.now_ns()
    if sandbox.state != SandboxState.READY:
        empty = ContainerStats(container_id=sandbox.id, timestamp=now)
        return sandbox, PodStats(sandbox_id=sandbox.id, timestamp=now, usage=empty)
    running = [
        c for c in ctx.containers.of_sandbox(sandbox.id) if c.state == ContainerState.RUNNING
    ]
    pause, interfaces, found = await asyncio.gather(
        _pause_stats(ctx, sandbox.id),
        _interfaces(ctx, sandbox),
        asyncio.gather(*(stats_if_running(ctx, c.id) for c in running)),
    )
    containers = [s for s in found if s is not None]
    usage = pod_usage(sandbox.id, now, [*pause, *containers])
    return sandbox, PodStats(
        sandbox_id=sandbox.id,
        timestamp=now,
        usage=ctx.cpu_rates.rated(("pod", sandbox.id), usage),
        interfaces=pod_interfaces(interfaces),
        process_count=sum(c.process_count for c in containers),  # the pause not counted
        containers=tuple(containers),
    )


async def _pause_stats(ctx: Context, sandbox_id: str) -> list[ContainerStats]:
    """The pause container's sample; none if its task ended since the pod was listed."""
    try:
        return [await ctx.ports.runtime.stats(sandbox_id)]
    except NotFound:
        return []


async def _interfaces(ctx: Context, sandbox: Sandbox) -> list[InterfaceStats]:
    """The counters of the pod's interfaces; none for a host-network pod (the node's are not
    the pod's) or a namespace that is gone (logged: the pod's network is broken)."""
    if not sandbox.netns_path:
        return []
    try:
        return await ctx.ports.netns.interface_stats(sandbox.netns_path)
    except NotFound as e:
        log.warning("pod %s: no network statistics: %s", sandbox.id, e)
        return []


async def list_pod_sandbox_stats(
    ctx: Context, f: SandboxFilter | None = None
) -> list[tuple[Sandbox, PodStats]]:
    ready = [s for s in list_pod_sandboxes(ctx, f) if s.state == SandboxState.READY]
    found = list(await asyncio.gather(*(pod_sandbox_stats(ctx, s.id) for s in ready)))
    forget_removed(ctx)
    return found


def is_reconciling(ctx: Context, object_id: str) -> bool:
    """Whether recovery has yet to match this sandbox or container with the runtime (its
    listed state is the recorded one until then)."""
    return object_id in ctx.reconciling
