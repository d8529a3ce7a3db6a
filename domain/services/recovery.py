"""Start-up recovery: rebuild the stores from the state and the runtime, roll back what a
crash left half-made, re-attach stdio, and remove what no sandbox owns."""

from __future__ import annotations

import logging
from functools import partial

from domain.errors import AlreadyExists
from domain.model import (
    Container,
    ContainerState,
    RuntimeContainer,
    Sandbox,
    SandboxState,
    TaskStatus,
)
from domain.services.container_create import log_path, reserved_name
from domain.services.context import Context
from domain.services.rollback import Rollback
from domain.services.sandbox_run import KIND_LABEL, network_request
from ports.network import PodNetworkRequest

log = logging.getLogger(__name__)


async def recover(ctx: Context) -> None:
    """Bring the in-memory stores in line with what survived; idempotent."""
    for image in await ctx.ports.images.list():
        ctx.images.put(image)
    sandboxes, containers = await ctx.ports.state.load()
    tasks = {c.id: c for c in await ctx.ports.runtime.list()}
    known_sandboxes = {s.id for s in sandboxes if s.committed}
    for sandbox in sandboxes:
        if sandbox.committed:
            await _restore_sandbox(ctx, sandbox, tasks.get(sandbox.id))
        else:
            await _roll_back_sandbox(ctx, sandbox)
    for container in containers:
        if container.committed and container.sandbox_id in known_sandboxes:
            await _restore_container(ctx, container, tasks.get(container.id))
        else:
            await _roll_back_container(ctx, container)
    known = known_sandboxes | {c.id for c in ctx.containers.all()}
    ours = {i for i, c in tasks.items() if KIND_LABEL in c.labels}  # never touch others'
    for task_id in ours - known:
        log.info("recovery: deleting orphaned runtime container %s", task_id)
        await ctx.ports.runtime.delete(task_id)
    await _remove_orphaned_networks(ctx, known_sandboxes)


async def _restore_sandbox(ctx: Context, sandbox: Sandbox, task: RuntimeContainer | None) -> None:
    if task is None or task.task != TaskStatus.RUNNING:
        if sandbox.state == SandboxState.READY:
            sandbox.mark_not_ready()
            await ctx.ports.state.put_sandbox(sandbox)
        ctx.exits.set(sandbox.id)
    try:
        ctx.names.reserve(sandbox.name, sandbox.id)
    except AlreadyExists:
        log.warning("recovery: sandbox %s holds a taken name %s", sandbox.id, sandbox.name)
    ctx.sandboxes.add(sandbox)


async def _restore_container(
    ctx: Context, container: Container, task: RuntimeContainer | None
) -> None:
    sandbox = ctx.sandboxes.get(container.sandbox_id)
    status = task.task if task is not None else TaskStatus.ABSENT
    if status == TaskStatus.RUNNING and container.state == ContainerState.CREATED:
        # the start reply was lost in the crash
        container.mark_started(task.pid if task else 0, ctx.ports.clock.now_ns())
    if status in (TaskStatus.RUNNING, TaskStatus.CREATED) and container.state in (
        ContainerState.CREATED,
        ContainerState.RUNNING,
    ):  # someone must read its stdio: now, or when it starts
        try:
            await ctx.ports.io.open(
                container.id, log_path(container.config, sandbox), container.config.tty,
                container.config.stdin,
            )  # fmt: skip
        except Exception:  # the container stays listed; only its log misses output
            log.exception("recovery: cannot re-attach the stdio of container %s", container.id)
    elif status == TaskStatus.STOPPED and container.state != ContainerState.EXITED:
        exited_at = task.exited_at if task and task.exited_at else ctx.ports.clock.now_ns()
        container.mark_exited(task.exit_code if task else 0, exited_at)
        await ctx.ports.runtime.reap(container.id)
    elif status in (TaskStatus.ABSENT, TaskStatus.UNKNOWN) and container.state in (
        ContainerState.CREATED,
        ContainerState.RUNNING,
    ):
        container.state = ContainerState.UNKNOWN
    if container.state in (ContainerState.EXITED, ContainerState.UNKNOWN):
        ctx.exits.set(container.id)
    await ctx.ports.state.put_container(container)
    ctx.names.reserve(reserved_name(container.config, sandbox), container.id)
    ctx.containers.add(container)


async def _roll_back_sandbox(ctx: Context, sandbox: Sandbox) -> None:
    log.info("recovery: rolling back interrupted sandbox %s", sandbox.id)
    undo = Rollback()
    undo.push("forget state", lambda: ctx.ports.state.delete_sandbox(sandbox.id))
    undo.push("remove files", lambda: ctx.ports.files.remove(sandbox.id))
    if sandbox.netns_path:
        undo.push("remove netns", lambda: ctx.ports.netns.remove(sandbox.netns_path))
        undo.push("network teardown", lambda: ctx.ports.network.teardown(network_request(sandbox)))
    undo.push("delete pause", lambda: ctx.ports.runtime.delete(sandbox.id))
    await undo.run()


async def _roll_back_container(ctx: Context, container: Container) -> None:
    log.info("recovery: rolling back interrupted container %s", container.id)
    undo = Rollback()
    undo.push("forget state", lambda: ctx.ports.state.delete_container(container.id))
    undo.push("close stdio", lambda: ctx.ports.io.close(container.id))
    undo.push("delete container", lambda: ctx.ports.runtime.delete(container.id))
    await undo.run()


async def _remove_orphaned_networks(ctx: Context, sandbox_ids: set[str]) -> None:
    """Namespaces and CNI results whose sandbox is gone: DEL, then remove."""
    in_use = {s.netns_path for s in ctx.sandboxes.all() if s.netns_path}
    owned = await ctx.ports.network.owned()
    undo = Rollback()  # runs every step, logs the ones that fail: start-up goes on
    for sandbox_id in set(owned) - sandbox_ids:
        request = PodNetworkRequest(
            sandbox_id=sandbox_id, netns_path="", pod_name="", pod_namespace="", pod_uid=""
        )
        undo.push(f"network teardown of {sandbox_id}", partial(ctx.ports.network.teardown, request))
    for path in await ctx.ports.netns.list():
        if path not in in_use:
            undo.push(f"remove netns {path}", partial(ctx.ports.netns.remove, path))
    await undo.run()
