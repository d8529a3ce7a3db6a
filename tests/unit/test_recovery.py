"""Restart recovery on the memory fakes: a new `Harness` over the same backend state."""

from __future__ import annotations

import asyncio

import pytest

from adapters.memory.backend import MemoryBackend
from domain.errors import Unavailable
from domain.ids import new_id
from domain.model import Container, ContainerState, RuntimeContainer, Sandbox, SandboxState
from domain.services import (
    runtime_info,
)
from domain.services.recovery import UNKNOWN_EXIT_CODE
from tests.support.harness import Harness
from tests.unit.conftest import container, pod, settle


async def restart(backend: MemoryBackend) -> Harness:
    fresh = Harness(ports=backend.ports())
    await fresh.recovery.recover()
    return fresh


async def test_restart_keeps_pods_containers_and_exit_codes(
    ctx: Harness, backend: MemoryBackend
) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    await ctx.image_pull.pull_image("busybox")
    running = await ctx.container_create.create_container(
        sid, container("srv", command=("server",))
    )
    await ctx.container_start.start_container(running)
    done = await ctx.container_create.create_container(sid, container("job", command=("false",)))
    await ctx.container_start.start_container(done)
    await settle()

    after = await restart(backend)
    assert after.sandbox_query.pod_sandbox_status(sid).state == SandboxState.READY
    assert after.container_query.container_status(running).state == ContainerState.RUNNING
    job = after.container_query.container_status(done)
    assert (job.state, job.exit_code, job.reason) == (ContainerState.EXITED, 1, "Error")
    assert backend.io.is_open(running)
    # names survive too
    with pytest.raises(Exception, match="reserved"):
        await after.container_create.create_container(sid, container("srv"))


async def test_exit_while_down_is_reconciled(ctx: Harness, backend: MemoryBackend) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    await ctx.image_pull.pull_image("busybox")
    cid = await ctx.container_create.create_container(sid, container(command=("server",)))
    await ctx.container_start.start_container(cid)
    # hexcri is "down": the exit is recorded by the runtime only
    backend.runtime._subscribers.clear()
    backend.runtime.exit_container(cid, 7)
    after = await restart(backend)
    c = after.container_query.container_status(cid)
    assert (c.state, c.exit_code) == (ContainerState.EXITED, 7)


async def test_interrupted_creates_are_rolled_back(ctx: Harness, backend: MemoryBackend) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    await ctx.image_pull.pull_image("busybox")
    # a crash after the state write, the netns and the CNI ADD, before the commit
    half = ctx.sandboxes.get(sid).model_copy(update={"id": new_id(), "committed": False})
    half.netns_path = await backend.netns.create(half.id)
    backend.network.allocations[half.id] = "10.88.9.9"
    await backend.state.put_sandbox(half)
    orphan = Container(id=new_id(), sandbox_id=sid, config=container("x"), committed=False)
    await backend.state.put_container(orphan)
    stray = await backend.netns.create(new_id())

    after = await restart(backend)
    assert [s.id for s in after.sandbox_query.list_pod_sandboxes()] == [sid]
    assert not after.container_query.list_containers()
    assert half.id not in backend.state.sandboxes and orphan.id not in backend.state.containers
    assert half.netns_path not in backend.netns.paths and stray not in backend.netns.paths
    assert list(backend.network.allocations) == [sid]


async def test_recovery_deletes_only_its_own_orphans(ctx: Harness, backend: MemoryBackend) -> None:
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


# --- reconciliation with the runtime, in the background --------------------------------------


async def running_pod(ctx: Harness) -> tuple[str, str]:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    await ctx.image_pull.pull_image("busybox")
    cid = await ctx.container_create.create_container(sid, container(command=("server",)))
    await ctx.container_start.start_container(cid)
    return sid, cid


def recorded(backend: MemoryBackend, object_id: str) -> int:
    """The state the record holds for a sandbox or container."""
    if object_id in backend.state.sandboxes:
        return Sandbox.model_validate_json(backend.state.sandboxes[object_id]).state
    return Container.model_validate_json(backend.state.containers[object_id]).state


def hexcri_down(backend: MemoryBackend) -> None:
    """What the runtime does from now on, no hexcri hears of (its events are lost)."""
    backend.runtime._subscribers.clear()


async def test_a_task_that_does_not_answer_keeps_its_recorded_state_until_it_answers(
    ctx: Harness, backend: MemoryBackend
) -> None:
    sid, cid = await running_pod(ctx)
    hexcri_down(backend)
    backend.runtime.unresponsive = {sid, cid}
    fresh = Harness(ports=backend.ports())
    reconciler = fresh.recovery.reconciler()
    await reconciler.restore()
    assert await reconciler.reconcile_once() is False
    assert reconciler.pending == {sid, cid}
    assert fresh.sandbox_query.is_reconciling(sid) and fresh.sandbox_query.is_reconciling(cid)
    # no verdict from a timeout: the record stands, in memory and on disk
    assert fresh.sandbox_query.pod_sandbox_status(sid).state == SandboxState.READY
    assert fresh.container_query.container_status(cid).state == ContainerState.RUNNING
    assert recorded(backend, cid) == ContainerState.RUNNING

    backend.runtime.exit_container(cid, 7)  # it exited while its shim did not answer
    exited_at = backend.runtime._tasks[cid].exited_at
    backend.runtime.unresponsive = set()
    assert await reconciler.reconcile_once() is True
    exited = fresh.container_query.container_status(cid)
    assert (exited.state, exited.exit_code) == (ContainerState.EXITED, 7)
    assert exited.finished_at == exited_at  # the real time
    assert recorded(backend, cid) == ContainerState.EXITED
    assert fresh.sandbox_query.pod_sandbox_status(sid).state == SandboxState.READY
    assert not fresh.sandbox_query.is_reconciling(sid)
    assert not fresh.sandbox_query.is_reconciling(cid)


async def test_the_background_reconciler_asks_again_until_settled(
    ctx: Harness, backend: MemoryBackend
) -> None:
    sid, _ = await running_pod(ctx)
    hexcri_down(backend)
    backend.runtime.unresponsive = {sid}
    fresh = Harness(ports=backend.ports())
    reconciler = fresh.recovery.reconciler()
    await reconciler.restore()
    running = asyncio.create_task(reconciler.run())
    for _ in range(20):  # several passes go by (the fake clock does not wait)
        await asyncio.sleep(0)
    assert not running.done() and reconciler.pending == {sid}
    backend.runtime.exit_container(sid, 137)  # the pause died meanwhile
    backend.runtime.unresponsive = set()
    await asyncio.wait_for(running, 5)
    assert fresh.sandbox_query.pod_sandbox_status(sid).state == SandboxState.NOTREADY
    assert recorded(backend, sid) == SandboxState.NOTREADY


async def test_the_record_is_served_while_the_runtime_is_down(
    ctx: Harness, backend: MemoryBackend
) -> None:
    sid, cid = await running_pod(ctx)
    hexcri_down(backend)
    backend.runtime.available = False
    fresh = Harness(ports=backend.ports())
    reconciler = fresh.recovery.reconciler()
    await reconciler.restore()
    assert [s.id for s in fresh.sandbox_query.list_pod_sandboxes()] == [sid]
    assert fresh.container_query.container_status(cid).state == ContainerState.RUNNING
    assert backend.io.is_open(cid)  # its stdio is read before anything else
    with pytest.raises(Unavailable):
        await reconciler.reconcile_once()
    backend.runtime.available = True
    assert await reconciler.reconcile_once() is True
    assert backend.runtime.released_before == reconciler.started_ns
    assert fresh.container_query.container_status(cid).state == ContainerState.RUNNING


async def test_a_lost_start_reply_and_a_vanished_task(ctx: Harness, backend: MemoryBackend) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    await ctx.image_pull.pull_image("busybox")
    started = await ctx.container_create.create_container(sid, container("a", command=("srv",)))
    gone = await ctx.container_create.create_container(sid, container("b", command=("srv",)))
    await ctx.container_start.start_container(gone)
    hexcri_down(backend)
    await backend.runtime.start(started)  # the task started; hexcri died before its reply
    await backend.runtime.delete(gone)  # someone removed the task behind hexcri's back

    after = await restart(backend)
    now_running = after.container_query.container_status(started)
    assert now_running.state == ContainerState.RUNNING and now_running.pid
    assert recorded(backend, started) == ContainerState.RUNNING
    vanished = after.container_query.container_status(gone)
    assert (vanished.state, vanished.exit_code) == (ContainerState.EXITED, UNKNOWN_EXIT_CODE)
    assert vanished.message


async def test_status_answers_while_the_runtime_hangs(
    backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def hang() -> bool:
        await asyncio.Event().wait()
        return True

    monkeypatch.setattr(backend.runtime, "ready", hang)
    monkeypatch.setattr(runtime_info, "READY_WAIT", 0.05)
    runtime, _ = await Harness(ports=backend.ports()).runtime_info.status()
    assert (runtime.type, runtime.status, runtime.reason) == (
        "RuntimeReady",
        False,
        "RuntimeNotReady",
    )


async def test_a_second_look_catches_an_exit_between_the_check_and_the_subscription(
    ctx: Harness, backend: MemoryBackend
) -> None:
    sid, cid = await running_pod(ctx)
    hexcri_down(backend)
    fresh = Harness(ports=backend.ports())
    reconciler = fresh.recovery.reconciler()
    await reconciler.restore()
    assert await reconciler.reconcile_once() is True
    backend.runtime.exit_container(cid, 4)  # no one listens yet
    await asyncio.wait_for(reconciler.run(), 5)
    exited = fresh.container_query.container_status(cid)
    assert (exited.state, exited.exit_code) == (ContainerState.EXITED, 4)
    assert fresh.sandbox_query.pod_sandbox_status(sid).state == SandboxState.READY


async def test_a_call_during_the_check_has_the_last_word(
    ctx: Harness, backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """StopPodSandbox while the reconciler waits for the runtime's answer (which says the
    pause runs): the pod stays NOTREADY."""
    sid, _ = await running_pod(ctx)
    hexcri_down(backend)
    fresh = Harness(ports=backend.ports())
    reconciler = fresh.recovery.reconciler()
    await reconciler.restore()
    inspect = backend.runtime.inspect

    async def stopped_meanwhile(object_id: str) -> RuntimeContainer:
        seen = await inspect(object_id)
        if object_id == sid:
            fresh.sandboxes.get(sid).mark_not_ready()
        return seen

    monkeypatch.setattr(backend.runtime, "inspect", stopped_meanwhile)
    assert await reconciler.reconcile_once() is True
    assert fresh.sandbox_query.pod_sandbox_status(sid).state == SandboxState.NOTREADY


async def test_a_start_in_flight_is_not_taken_for_a_lost_reply(
    ctx: Harness, backend: MemoryBackend
) -> None:
    """The reconciler's second look meets a StartContainer whose task runs but whose reply is
    not recorded yet: it waits for the container's lock, so the start ends as it would alone
    (before, it marked the container started and the start answered FailedPrecondition)."""
    sid, _ = await running_pod(ctx)
    cid = await ctx.container_create.create_container(sid, container("b", command=("srv",)))
    reconciler = ctx.recovery.reconciler()
    reconciler.pending.add(cid)
    started = asyncio.Event()
    real_start = backend.runtime.start

    async def slow_start(container_id: str) -> int:
        pid = await real_start(container_id)  # the task runs now
        started.set()
        await asyncio.sleep(0.05)  # the reply is not recorded yet
        return pid

    backend.runtime.start = slow_start  # type: ignore[method-assign]
    starting = asyncio.create_task(ctx.container_start.start_container(cid))
    await started.wait()
    assert await reconciler.reconcile_once() is True
    await starting  # no FailedPrecondition: the start had the container to itself
    assert ctx.container_query.container_status(cid).state == ContainerState.RUNNING
