"""RunPodSandbox: network namespace, then CNI beside the pause container's creation (its
task is made in the namespace while the plugins configure it), started and committed last."""

from __future__ import annotations

import asyncio

from domain.ids import new_id
from domain.model import Image, NamespaceMode, Sandbox, SandboxConfig
from domain.services.concurrency import both
from domain.services.context import Context
from domain.services.image_pull import ensure_image
from domain.services.profiles import seccomp_profile
from domain.services.rollback import Rollback
from domain.spec import sandbox_files, sandbox_spec
from domain.validation.sandbox import check_sandbox
from ports.network import PodNetworkRequest
from ports.runtime import CreateRequest

KIND_LABEL = "io.hexcri.kind"


def network_request(sandbox: Sandbox) -> PodNetworkRequest:
    m = sandbox.config.metadata
    return PodNetworkRequest(
        sandbox_id=sandbox.id,
        netns_path=sandbox.netns_path,
        pod_name=m.name,
        pod_namespace=m.namespace,
        pod_uid=m.uid,
        port_mappings=sandbox.config.port_mappings,
        dns=sandbox.config.dns_config,
        annotations=sandbox.config.annotations,
    )


async def run_pod_sandbox(ctx: Context, config: SandboxConfig, runtime_handler: str = "") -> str:
    """Create and start a pod sandbox; returns its ID. On failure nothing is left behind."""
    check_sandbox(config, runtime_handler, ctx.settings.runtime_handlers, ctx.settings.node)
    sandbox = Sandbox(
        id=new_id(),
        config=config,
        runtime_handler=runtime_handler,
        created_at=ctx.ports.clock.now_ns(),
    )
    ctx.names.reserve(sandbox.name, sandbox.id)
    undo = Rollback()
    undo.push("release name", lambda: ctx.names.release(sandbox.name))
    try:
        image = await ensure_image(ctx, ctx.settings.sandbox_image)
        await ctx.ports.state.put_sandbox(sandbox)  # uncommitted: recovery rolls it back
        undo.push("forget state", lambda: ctx.ports.state.delete_sandbox(sandbox.id))
        if not config.host_network:
            sandbox.netns_path = await ctx.ports.netns.create(sandbox.id)
            undo.push("remove netns", lambda: ctx.ports.netns.remove(sandbox.netns_path))
            await ctx.ports.state.put_sandbox(sandbox)
        sandbox.ips, _ = await both(
            _setup_network(ctx, sandbox, undo), _create_pause(ctx, sandbox, image, undo)
        )
        if sandbox.ips:  # the hosts file names the pod by its IP, known only now
            await _write_files(ctx, sandbox)
        pid = await ctx.ports.runtime.start(sandbox.id)
        sandbox.mark_ready(pid)
        sandbox.committed = True
        await ctx.ports.state.put_sandbox(sandbox)
    except BaseException:
        await asyncio.shield(undo.run())
        raise
    ctx.sandboxes.add(sandbox)
    return sandbox.id


async def _write_files(ctx: Context, sandbox: Sandbox) -> None:
    """The pod's hostname, hosts, resolv.conf, and its shm unless it shares the host's IPC."""
    own_ipc = sandbox.config.security.namespace_options.ipc != NamespaceMode.NODE
    shm = ctx.settings.shm_size if own_ipc else 0
    await ctx.ports.files.write(sandbox.id, sandbox_files(sandbox, ctx.settings.node), shm)


async def _setup_network(ctx: Context, sandbox: Sandbox, undo: Rollback) -> tuple[str, ...]:
    if sandbox.config.host_network:
        return ()
    request = network_request(sandbox)
    undo.push("network teardown", lambda: ctx.ports.network.teardown(request))
    result = await ctx.ports.network.setup(request)
    return result.ips


async def _create_pause(ctx: Context, sandbox: Sandbox, image: Image, undo: Rollback) -> None:
    node = ctx.settings.node
    security = sandbox.config.security
    profile = await seccomp_profile(ctx, security.seccomp, security.privileged)
    undo.push("remove sandbox files", lambda: ctx.ports.files.remove(sandbox.id))
    await _write_files(ctx, sandbox)
    request = CreateRequest(
        id=sandbox.id,
        sandbox_id=sandbox.id,
        image=image,
        spec=sandbox_spec(sandbox, image, node, profile),
        labels={KIND_LABEL: "sandbox"},
        start_soon=True,  # its process is made while the network is set up
    )
    undo.push("delete pause container", lambda: ctx.ports.runtime.delete(sandbox.id))
    await ctx.ports.runtime.create(request)
