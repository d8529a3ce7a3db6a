"""ContainerStatus, ListContainers and container stats: answered from the stores."""

from __future__ import annotations

import asyncio

from domain.errors import NotFound
from domain.filters import ContainerFilter, match_container, validate_selector
from domain.model import Container, ContainerState, ContainerStats
from domain.services.context import Context


def container_status(ctx: Context, container_id: str) -> Container:
    return ctx.containers.get(container_id)


def list_containers(ctx: Context, f: ContainerFilter | None = None) -> list[Container]:
    if f is None:
        return ctx.containers.all()
    validate_selector(f.label_selector)
    return [c for c in ctx.containers.all() if match_container(f, c)]


async def container_stats(ctx: Context, container_id: str) -> tuple[Container, ContainerStats]:
    container = ctx.containers.get(container_id)
    if container.state != ContainerState.RUNNING:
        return container, ContainerStats(
            container_id=container.id, timestamp=ctx.ports.clock.now_ns()
        )
    return container, await running_container_stats(ctx, container.id)


async def running_container_stats(ctx: Context, container_id: str) -> ContainerStats:
    """A running container's sample from the runtime, its cpu rated against the previous."""
    stats = await ctx.ports.runtime.stats(container_id)
    return ctx.cpu_rates.rated(container_id, stats)


async def stats_if_running(ctx: Context, container_id: str) -> ContainerStats | None:
    """As `running_container_stats`, None for a task that ended since it was listed."""
    try:
        return await running_container_stats(ctx, container_id)
    except NotFound:
        return None


async def list_container_stats(
    ctx: Context, f: ContainerFilter | None = None
) -> list[tuple[Container, ContainerStats]]:
    """The running containers' stats; one whose task ends meanwhile is left out."""
    running = [c for c in list_containers(ctx, f) if c.state == ContainerState.RUNNING]
    found = await asyncio.gather(*(stats_if_running(ctx, c.id) for c in running))
    forget_removed(ctx)
    return [(c, s) for c, s in zip(running, found, strict=True) if s is not None]


def forget_removed(ctx: Context) -> None:
    """Drop the cpu samples of containers and pods that are gone."""
    sandboxes = [("pod", s.id) for s in ctx.sandboxes.all()]
    ctx.cpu_rates.retain([*(c.id for c in ctx.containers.all()), *sandboxes])
