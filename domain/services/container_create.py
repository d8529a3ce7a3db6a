"""CreateContainer: reserve the name, build the spec, open stdio, create in the runtime."""

from __future__ import annotations

import asyncio

from domain.errors import FailedPrecondition, NotFound
from domain.ids import new_id
from domain.model import (
    Container,
    ContainerConfig,
    ContainerState,
    NamespaceMode,
    Sandbox,
    SandboxState,
)
from domain.names import container_name
from domain.pods import KIND_LABEL, SANDBOX_ID_LABEL, log_path
from domain.services.context import Context
from domain.services.profiles import seccomp_profile
from domain.spec import HostDevice, container_spec
from domain.validation.container import check_container
from domain.validation.text import quote
from ports.runtime import CreateRequest


def _target_pid(ctx: Context, config: ContainerConfig) -> int | None:
    """The pid whose PID namespace a TARGET-mode container joins."""
    options = config.security.namespace_options
    if options.pid != NamespaceMode.TARGET:
        return None
    target = ctx.containers.get(options.target_id)
    if target.state != ContainerState.RUNNING:
        raise FailedPrecondition(f"target container {target.id} is not running")
    return target.pid


async def _host_devices(ctx: Context, config: ContainerConfig) -> dict[str, list[HostDevice]]:
    """The host's device nodes behind each device the container asks for."""
    paths = [d.host_path for d in config.devices]
    found = await asyncio.gather(*(ctx.ports.devices.lookup(p) for p in paths))
    return dict(zip(paths, found, strict=True))


async def create_container(ctx: Context, sandbox_id: str, config: ContainerConfig) -> str:
    """Create a container in a READY sandbox; returns its ID. Nothing is left on failure.
    Holds the sandbox's lock shared: a stop or removal of the sandbox waits for it."""
    found = ctx.sandboxes.get(sandbox_id)
    check_container(config, found.config, ctx.settings.node)
    async with ctx.locks.shared(found.id):
        return await _create(ctx, ctx.sandboxes.get(found.id), config)


async def _create(ctx: Context, sandbox: Sandbox, config: ContainerConfig) -> str:
    if sandbox.state != SandboxState.READY:
        raise FailedPrecondition(f"sandbox {sandbox.id} is not ready")
    image = ctx.images.resolve(config.image)
    if image is None:
        raise NotFound(f"image {quote(config.image)} not found: pull it first")
    container = Container(
        id=new_id(),
        sandbox_id=sandbox.id,
        config=config,
        image_id=image.id,
        image_ref=image.repo_digests[0] if image.repo_digests else image.id,
        created_at=ctx.ports.clock.now_ns(),
        resources=config.resources,
    )
    async with ctx.pods.creating(container, container_name(config, sandbox)) as uow:
        spec = container_spec(
            container,
            sandbox,
            image,
            ctx.settings.node,
            target_pid=_target_pid(ctx, config),
            devices=await _host_devices(ctx, config),
            seccomp_profile=await seccomp_profile(
                ctx, config.security.seccomp, config.security.privileged
            ),
        )
        await uow.record()
        await asyncio.gather(*(ctx.ports.files.ensure_dir(m.host_path) for m in config.mounts))
        uow.on_rollback("close stdio", lambda: ctx.ports.io.close(container.id))
        stdio = await ctx.ports.io.open(
            container.id, log_path(config, sandbox), config.tty, config.stdin
        )
        uow.on_rollback("delete container", lambda: ctx.ports.runtime.delete(container.id))
        await ctx.ports.runtime.create(
            CreateRequest(
                id=container.id,
                sandbox_id=sandbox.id,
                image=image,
                spec=spec,
                labels={KIND_LABEL: "container", SANDBOX_ID_LABEL: sandbox.id},
                stdio=stdio,
            )
        )
        await uow.commit()
    return container.id
