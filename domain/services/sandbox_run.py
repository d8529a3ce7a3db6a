"""RunPodSandbox: network namespace, then CNI beside the pause container's creation (its
task is made in the namespace while the plugins configure it), started and committed last."""

from __future__ import annotations

from domain.ids import new_id
from domain.model import Image, NamespaceMode, Sandbox, SandboxConfig
from domain.pods import KIND_LABEL, network_request
from domain.services.concurrency import both
from domain.services.context import Context
from domain.services.image_pull import ensure_image
from domain.services.profiles import seccomp_profile
from domain.services.unit_of_work import UnitOfWork
from domain.spec import sandbox_files, sandbox_spec
from domain.validation.sandbox import check_sandbox
from ports.runtime import CreateRequest


async def run_pod_sandbox(ctx: Context, config: SandboxConfig, runtime_handler: str = "") -> str:
    """Create and start a pod sandbox; returns its ID. On failure nothing is left behind."""
    check_sandbox(config, runtime_handler, ctx.settings.runtime_handlers, ctx.settings.node)
    sandbox = Sandbox(
        id=new_id(),
        config=config,
        runtime_handler=runtime_handler,
        created_at=ctx.ports.clock.now_ns(),
    )
    async with ctx.pods.creating(sandbox, sandbox.name) as uow:
        image = await ensure_image(ctx, ctx.settings.sandbox_image)
        await uow.record()  # uncommitted: recovery rolls it back
        if not config.host_network:
            sandbox.netns_path = await ctx.ports.netns.create(sandbox.id)
            uow.on_rollback("remove netns", lambda: ctx.ports.netns.remove(sandbox.netns_path))
            await uow.record()
        sandbox.ips, _ = await both(
            _setup_network(ctx, sandbox, uow), _create_pause(ctx, sandbox, image, uow)
        )
        if sandbox.ips:  # the hosts file names the pod by its IP, known only now
            await _write_files(ctx, sandbox)
        pid = await ctx.ports.runtime.start(sandbox.id)
        sandbox.mark_ready(pid)
        await uow.commit()
    return sandbox.id


async def _write_files(ctx: Context, sandbox: Sandbox) -> None:
    """The pod's hostname, hosts, resolv.conf, and its shm unless it shares the host's IPC."""
    own_ipc = sandbox.config.security.namespace_options.ipc != NamespaceMode.NODE
    shm = ctx.settings.shm_size if own_ipc else 0
    await ctx.ports.files.write(sandbox.id, sandbox_files(sandbox, ctx.settings.node), shm)


async def _setup_network(ctx: Context, sandbox: Sandbox, uow: UnitOfWork) -> tuple[str, ...]:
    if sandbox.config.host_network:
        return ()
    request = network_request(sandbox)
    uow.on_rollback("network teardown", lambda: ctx.ports.network.teardown(request))
    result = await ctx.ports.network.setup(request)
    return result.ips


async def _create_pause(ctx: Context, sandbox: Sandbox, image: Image, uow: UnitOfWork) -> None:
    node = ctx.settings.node
    security = sandbox.config.security
    profile = await seccomp_profile(ctx, security.seccomp, security.privileged)
    uow.on_rollback("remove sandbox files", lambda: ctx.ports.files.remove(sandbox.id))
    await _write_files(ctx, sandbox)
    request = CreateRequest(
        id=sandbox.id,
        sandbox_id=sandbox.id,
        image=image,
        spec=sandbox_spec(sandbox, image, node, profile),
        labels={KIND_LABEL: "sandbox"},
    )
    uow.on_rollback("delete pause container", lambda: ctx.ports.runtime.delete(sandbox.id))
    await ctx.ports.runtime.create(request)
    await ctx.ports.runtime.create_task(sandbox.id)
