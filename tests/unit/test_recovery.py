"""Restart recovery on the memory fakes: a new Context over the same backend state."""

from __future__ import annotations

import pytest

from adapters.memory.backend import MemoryBackend
from domain.ids import new_id
from domain.model import Container, ContainerState, SandboxState
from domain.services import (
    container_create,
    container_query,
    image_pull,
    sandbox_query,
    sandbox_run,
)
from domain.services.container_start import start_container
from domain.services.context import Context
from domain.services.recovery import recover
from tests.unit.conftest import container, pod, settle


async def restart(backend: MemoryBackend) -> Context:
    fresh = Context(ports=backend.ports())
    await recover(fresh)
    return fresh


async def test_restart_keeps_pods_containers_and_exit_codes(
    ctx: Context, backend: MemoryBackend
) -> None:
    sid = await sandbox_run.run_pod_sandbox(ctx, pod())
    await image_pull.pull_image(ctx, "busybox")
    running = await container_create.create_container(
        ctx, sid, container("srv", command=("server",))
    )
    await start_container(ctx, running)
    done = await container_create.create_container(ctx, sid, container("job", command=("false",)))
    await start_container(ctx, done)
    await settle()

    after = await restart(backend)
    assert sandbox_query.pod_sandbox_status(after, sid).state == SandboxState.READY
    assert container_query.container_status(after, running).state == ContainerState.RUNNING
    job = container_query.container_status(after, done)
    assert (job.state, job.exit_code, job.reason) == (ContainerState.EXITED, 1, "Error")
    assert backend.io.is_open(running)
    # names survive too
    with pytest.raises(Exception, match="reserved"):
        await container_create.create_container(after, sid, container("srv"))


async def test_exit_while_down_is_reconciled(ctx: Context, backend: MemoryBackend) -> None:
    sid = await sandbox_run.run_pod_sandbox(ctx, pod())
    await image_pull.pull_image(ctx, "busybox")
    cid = await container_create.create_container(ctx, sid, container(command=("server",)))
    await start_container(ctx, cid)
    # hexcri is "down": the exit is recorded by the runtime only
    backend.runtime._subscribers.clear()
    backend.runtime.exit_container(cid, 7)
    after = await restart(backend)
    c = container_query.container_status(after, cid)
    assert (c.state, c.exit_code) == (ContainerState.EXITED, 7)


async def test_interrupted_creates_are_rolled_back(ctx: Context, backend: MemoryBackend) -> None:
    sid = await sandbox_run.run_pod_sandbox(ctx, pod())
    await image_pull.pull_image(ctx, "busybox")
    # a crash after the state write, the netns and the CNI ADD, before the commit
    half = ctx.sandboxes.get(sid).model_copy(update={"id": new_id(), "committed": False})
    half.netns_path = await backend.netns.create(half.id)
    backend.network.allocations[half.id] = "10.88.9.9"
    await backend.state.put_sandbox(half)
    orphan = Container(id=new_id(), sandbox_id=sid, config=container("x"), committed=False)
    await backend.state.put_container(orphan)
    stray = await backend.netns.create(new_id())

    after = await restart(backend)
    assert [s.id for s in sandbox_query.list_pod_sandboxes(after)] == [sid]
    assert not container_query.list_containers(after)
    assert half.id not in backend.state.sandboxes and orphan.id not in backend.state.containers
    assert half.netns_path not in backend.netns.paths and stray not in backend.netns.paths
    assert list(backend.network.allocations) == [sid]


async def test_recovery_deletes_only_its_own_orphans(ctx: Context, backend: MemoryBackend) -> None:
    from domain.model import Image
    from ports.runtime import CreateRequest

    image = Image(id="sha256:" + "1" * 64)
    theirs = CreateRequest(id=new_id(), sandbox_id="", image=image, spec={}, labels={"x": "y"})
    ours = CreateRequest(
        id=new_id(), sandbox_id="", image=image, spec={}, labels={"io.hexcri.kind": "container"}
    )
    await backend.runtime.create(theirs)
    await backend.runtime.create(ours)
    await restart(backend)
    assert backend.runtime.has(theirs.id) and not backend.runtime.has(ours.id)
