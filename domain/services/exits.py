"""Runtime events: task exits and OOM kills recorded in the stores and the state."""

from __future__ import annotations

import logging

from domain.model import TaskExit, TaskOOM
from domain.services.context import Context

log = logging.getLogger(__name__)


async def handle_event(ctx: Context, event: TaskExit | TaskOOM) -> None:
    if isinstance(event, TaskOOM):
        container = ctx.containers.lookup(event.container_id)
        if container is not None:
            container.oom_killed = True  # in memory until the exit records it with the reason
        return
    await record_exit(ctx, event)


async def record_exit(ctx: Context, event: TaskExit) -> None:
    """Record an exit once: repeats (a reconciliation after a reconnect) change nothing."""
    container = ctx.containers.lookup(event.container_id)
    if container is not None:
        if container.finished_at:
            ctx.exits.set(container.id)
            return
        await ctx.ports.io.close(container.id)  # the log is complete once the status says exited
        async with ctx.pods.changing(container) as uow:
            container.mark_exited(event.exit_code, event.exited_at or ctx.ports.clock.now_ns())
            await uow.commit()  # with the exit signal and the STOPPED event
        await ctx.ports.runtime.reap(container.id)
        return
    sandbox = ctx.sandboxes.find(event.container_id) if len(event.container_id) == 64 else None
    if sandbox is not None:
        async with ctx.pods.changing(sandbox) as uow:
            sandbox.mark_not_ready()
            await uow.commit()
    ctx.exits.set(event.container_id)


async def watch_runtime_events(ctx: Context) -> None:
    """Consume the runtime's event stream until cancelled."""
    async for event in ctx.ports.events.subscribe():
        try:
            await handle_event(ctx, event)
        except Exception:
            log.exception("failed to handle runtime event %s", event)
