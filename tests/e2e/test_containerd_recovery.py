"""`kill -9` of hexcri in the middle of each CRI call that changes something, then a restart:
what hexcri lists must be what containerd's tasks say, and removal must leave nothing (no
container, task, snapshot, FIFO, netns, CNI allocation, lease or ingest). The kill lands at a
fixed point of the call through the fault hook (`adapters/containerd/faults.py`).

Also: a pod's shim that does not answer (SIGSTOP) across a restart of hexcri, whose record
stands until the shim answers again.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri

from tests.e2e.conftest import Cri
from tests.e2e.test_containerd_containers import (
    ECHO_ON_DEMAND,
    connect,
    container_config,
    create,
    exec_sync,
    fifos_under,
    pod_config,
    remove_pod_and_check,
    run_pod,
    say,
    start,
    status,
    wait_log,
    wait_state,
)
from tests.support.oci import large_image
from tests.support.stack import BUSYBOX, Stack

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]

FAULT = "HEXCRI_FAULT"
SETTLE = 30.0  # seconds hexcri may take to agree with containerd after a restart
LARGE = "docker.io/library/large:latest"


# --- the crash, the restart, the checks ------------------------------------------------------


async def crash_during(stack: Stack, fault: str, call: Callable[[Cri], Awaitable[Any]]) -> None:
    """Restart hexcri with `fault` armed, make `call` (which the fault cuts with SIGKILL),
    then start hexcri again, unarmed."""
    stack.stop_hexcri()
    stack.env[FAULT] = fault
    stack.start_hexcri()
    channel, c = connect(stack)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as cut:
            await call(c)
        assert cut.value.code() == grpc.StatusCode.UNAVAILABLE, cut.value
    assert stack.hexcri is not None
    assert await asyncio.to_thread(stack.hexcri.wait, 30) == -signal.SIGKILL
    del stack.env[FAULT]
    stack.start_hexcri()


def containerd_tasks(stack: Stack) -> dict[str, str]:
    """Task id -> status (RUNNING, STOPPED, CREATED, ...) as containerd tells it."""
    rows = [line.split() for line in stack.containerd.ctr("tasks", "ls").splitlines()[1:]]
    return {row[0]: row[2] for row in rows if len(row) >= 3}


def containerd_containers(stack: Stack) -> set[str]:
    return set(stack.containerd.ctr("containers", "ls", "-q").split())


async def listed(c: Cri) -> tuple[dict[str, int], dict[str, int]]:
    pods = (await c.runtime.ListPodSandbox(cri.ListPodSandboxRequest())).items
    containers = (await c.runtime.ListContainers(cri.ListContainersRequest())).containers
    return {p.id: p.state for p in pods}, {x.id: x.state for x in containers}


def disagreements(
    pods: dict[str, int], containers: dict[str, int], tasks: dict[str, str]
) -> list[str]:
    """Where a listed state is not what containerd's task says: a pod is READY iff its
    pause task runs; a container RUNNING iff its task runs, CREATED with a created task or
    none, EXITED with a stopped task or none."""
    wrong = []
    for pid, state in pods.items():
        if (state == cri.SANDBOX_READY) != (tasks.get(pid) == "RUNNING"):
            wrong.append(f"pod {pid[:12]} {cri.PodSandboxState.Name(state)}, task {tasks.get(pid)}")
    allowed: dict[int, set[str | None]] = {
        cri.CONTAINER_RUNNING: {"RUNNING"},
        cri.CONTAINER_CREATED: {"CREATED", None},
        cri.CONTAINER_EXITED: {"STOPPED", None},
    }
    for cid, state in containers.items():
        if tasks.get(cid) not in allowed.get(int(state), set()):
            name = cri.ContainerState.Name(state)
            wrong.append(f"container {cid[:12]} {name}, task {tasks.get(cid)}")
    return wrong


async def states_agree(c: Cri, stack: Stack) -> tuple[dict[str, int], dict[str, int]]:
    """Wait (bounded) until hexcri's lists agree with containerd; returns them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE
    while True:
        pods, containers = await listed(c)
        wrong = disagreements(pods, containers, containerd_tasks(stack))
        if not wrong:
            return pods, containers
        if loop.time() > deadline:
            raise AssertionError(f"hexcri and containerd disagree: {wrong}")
        await asyncio.sleep(0.1)


async def until(check: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE
    while not check():
        if loop.time() > deadline:
            raise AssertionError(what)
        await asyncio.sleep(0.1)


def leases(stack: Stack) -> list[str]:
    return stack.containerd.ctr("leases", "ls", "-q").split()


def ingests(stack: Stack) -> list[str]:
    return [line for line in stack.containerd.ctr("content", "active").splitlines()[1:] if line]


def exec_dirs(stack: Stack) -> list[str]:
    root = stack.root / "hexcri" / "state" / "exec"
    return os.listdir(root) if root.is_dir() else []


async def nothing_left(c: Cri, stack: Stack, sid: str) -> None:
    """Stop and remove the pod; nothing of it, nor of the interrupted call, stays."""
    await remove_pod_and_check(c, stack, sid)
    await until(lambda: not leases(stack), f"leases left: {leases(stack)}")
    assert not ingests(stack)
    assert not exec_dirs(stack)


def report(call: str, pods: dict[str, int], containers: dict[str, int]) -> None:
    """The states seen after the restart (for the record of the kill -9 matrix)."""
    seen = [cri.PodSandboxState.Name(s) for s in pods.values()]
    seen += [cri.ContainerState.Name(s) for s in containers.values()]
    print(f"kill -9 during {call}: {', '.join(seen) or 'nothing listed'}")


# --- the matrix ------------------------------------------------------------------------------


@pytest.fixture
async def busybox(stack: Stack) -> None:
    channel, c = connect(stack)
    async with channel:
        await c.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=BUSYBOX)))


async def test_kill_during_run_pod_sandbox(stack: Stack, busybox: None, tmp_path: Path) -> None:
    pod = pod_config("k-run", tmp_path)
    await crash_during(stack, "task-started@1", lambda c: run_pod(c, pod))
    channel, c = connect(stack)
    async with channel:
        pods, containers = await states_agree(c, stack)
        report("RunPodSandbox", pods, containers)
        assert not pods and not containers  # the half-made pod is rolled back
        await until(lambda: not containerd_containers(stack), "the pause container stays")
        await until(lambda: not stack.cni.pinned(), f"netns left: {stack.cni.pinned()}")
        assert not stack.cni.allocations() and not stack.cni.cached()
        sid = await run_pod(c, pod)  # the name is free again
        await nothing_left(c, stack, sid)


async def test_kill_during_create_container(stack: Stack, busybox: None, tmp_path: Path) -> None:
    pod = pod_config("k-create", tmp_path)
    channel, c = connect(stack)
    async with channel:
        sid = await run_pod(c, pod)
    config = container_config("app", ["sh", "-c", ECHO_ON_DEMAND])
    await crash_during(stack, "container-created@1", lambda c: create(c, sid, pod, config))
    channel, c = connect(stack)
    async with channel:
        pods, containers = await states_agree(c, stack)
        report("CreateContainer", pods, containers)
        assert pods == {sid: cri.SANDBOX_READY} and not containers
        await until(lambda: containerd_containers(stack) == {sid}, "the container stays")
        await start(c, sid, pod, config)  # the name is free again
        await nothing_left(c, stack, sid)


async def test_kill_during_start_container(stack: Stack, busybox: None, tmp_path: Path) -> None:
    pod = pod_config("k-start", tmp_path)
    channel, c = connect(stack)
    async with channel:
        sid = await run_pod(c, pod)
        cid = await create(c, sid, pod, container_config("app", ["sh", "-c", ECHO_ON_DEMAND]))
    request = cri.StartContainerRequest(container_id=cid)
    await crash_during(stack, "task-started@1", lambda c: c.runtime.StartContainer(request))
    channel, c = connect(stack)
    async with channel:
        pods, containers = await states_agree(c, stack)
        report("StartContainer", pods, containers)
        assert (pods, containers) == ({sid: cri.SANDBOX_READY}, {cid: cri.CONTAINER_RUNNING})
        # its stdio is read again: what it prints reaches the log (what the killed hexcri
        # had read but not written yet, "started" maybe, is lost with it)
        await say(c, cid, "after-restart")
        await wait_log(tmp_path / "app.log", "after-restart")
        await nothing_left(c, stack, sid)


async def test_kill_during_exec_sync(stack: Stack, busybox: None, tmp_path: Path) -> None:
    pod = pod_config("k-exec", tmp_path)
    channel, c = connect(stack)
    async with channel:
        sid = await run_pod(c, pod)
        cid = await start(c, sid, pod, container_config("app", ["sh", "-c", ECHO_ON_DEMAND]))
    await crash_during(
        stack, "exec-started@1", lambda c: exec_sync(c, cid, ["sh", "-c", "echo hi; sleep 600"])
    )
    channel, c = connect(stack)
    async with channel:
        pods, containers = await states_agree(c, stack)
        report("ExecSync", pods, containers)
        assert (pods, containers) == ({sid: cri.SANDBOX_READY}, {cid: cri.CONTAINER_RUNNING})
        await until(lambda: not exec_dirs(stack), f"exec FIFOs left: {exec_dirs(stack)}")
        for _ in range(300):  # the cut exec's process is ended: no one waits for it
            if b"sleep 600" not in (await exec_sync(c, cid, ["ps"])).stdout:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the cut exec's process still runs")
        done = await exec_sync(c, cid, ["echo", "again"])
        assert (done.exit_code, done.stdout) == (0, b"again\n")
        await nothing_left(c, stack, sid)


async def test_kill_during_stop_pod_sandbox(stack: Stack, busybox: None, tmp_path: Path) -> None:
    pod = pod_config("k-stop", tmp_path)
    channel, c = connect(stack)
    async with channel:
        sid = await run_pod(c, pod)
        cid = await start(c, sid, pod, container_config("app", ["sh", "-c", "exit 3"]))
        await wait_state(c, cid, cri.CONTAINER_EXITED)
    request = cri.StopPodSandboxRequest(pod_sandbox_id=sid)
    await crash_during(stack, "task-killed@1", lambda c: c.runtime.StopPodSandbox(request))
    channel, c = connect(stack)
    async with channel:
        pods, containers = await states_agree(c, stack)
        report("StopPodSandbox", pods, containers)
        assert (pods, containers) == ({sid: cri.SANDBOX_NOTREADY}, {cid: cri.CONTAINER_EXITED})
        assert (await status(c, cid)).exit_code == 3
        await nothing_left(c, stack, sid)


async def test_kill_during_remove_pod_sandbox(stack: Stack, busybox: None, tmp_path: Path) -> None:
    pod = pod_config("k-remove", tmp_path)
    channel, c = connect(stack)
    async with channel:
        sid = await run_pod(c, pod)
        cid = await start(c, sid, pod, container_config("app", ["true"]))
        await wait_state(c, cid, cri.CONTAINER_EXITED)
        await c.runtime.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sid))
    request = cri.RemovePodSandboxRequest(pod_sandbox_id=sid)
    # the first deletion is the container's, the second the pause's: cut after its task
    await crash_during(stack, "task-deleted@2", lambda c: c.runtime.RemovePodSandbox(request))
    channel, c = connect(stack)
    async with channel:
        pods, containers = await states_agree(c, stack)
        report("RemovePodSandbox", pods, containers)
        assert (pods, containers) == ({sid: cri.SANDBOX_NOTREADY}, {})
        await nothing_left(c, stack, sid)


async def test_kill_during_remove_container_clean_up(
    stack: Stack, busybox: None, tmp_path: Path
) -> None:
    """RemoveContainer answers before the runtime's clean-up; cut there, the container stays
    removed and the restart's sweep deletes its runtime container."""
    pod = pod_config("k-rmctr", tmp_path)
    channel, c = connect(stack)
    async with channel:
        sid = await run_pod(c, pod)
        cid = await start(c, sid, pod, container_config("app", ["true"]))
        await wait_state(c, cid, cri.CONTAINER_EXITED)
    stack.stop_hexcri()
    stack.env[FAULT] = "task-deleted@1"
    stack.start_hexcri()
    channel, c = connect(stack)
    async with channel:
        try:  # the answer comes first; the kill may still cut it on its way
            await c.runtime.RemoveContainer(cri.RemoveContainerRequest(container_id=cid))
        except grpc.aio.AioRpcError as cut:
            assert cut.code() == grpc.StatusCode.UNAVAILABLE, cut
    assert stack.hexcri is not None
    assert await asyncio.to_thread(stack.hexcri.wait, 30) == -signal.SIGKILL
    assert cid in containerd_containers(stack)  # the clean-up was cut
    del stack.env[FAULT]
    stack.start_hexcri()
    channel, c = connect(stack)
    async with channel:
        pods, containers = await states_agree(c, stack)
        report("RemoveContainer's clean-up", pods, containers)
        assert (pods, containers) == ({sid: cri.SANDBOX_READY}, {})
        await until(
            lambda: cid not in containerd_containers(stack), "the removed container is left"
        )
        await nothing_left(c, stack, sid)


async def test_kill_during_pull_image(stack: Stack, tmp_path: Path) -> None:
    image = large_image(layers=1, mib_per_layer=4)
    stack.registry.push(image, "library/large", "latest")
    layer = image.manifest["layers"][-1]["digest"]
    request = cri.PullImageRequest(image=cri.ImageSpec(image=LARGE))
    await crash_during(stack, "ingest-written@1", lambda c: c.images.PullImage(request))
    channel, c = connect(stack)
    async with channel:
        pods, containers = await states_agree(c, stack)
        report("PullImage", pods, containers)
        listed_images = (await c.images.ListImages(cri.ListImagesRequest())).images
        assert not any(LARGE in i.repo_tags for i in listed_images)
        await until(lambda: not leases(stack), f"leases left: {leases(stack)}")
        await until(lambda: not ingests(stack), f"ingests left: {ingests(stack)}")
        # the garbage collector took what the cut pull had fetched
        await until(
            lambda: layer not in stack.containerd.ctr("content", "ls", "-q"),
            "the cut pull's layer stays",
        )
        pulled = await c.images.PullImage(request)
        assert pulled.image_ref
        await c.images.RemoveImage(cri.RemoveImageRequest(image=cri.ImageSpec(image=LARGE)))
        assert not leases(stack) and not ingests(stack)


# --- a shim that does not answer across a restart -------------------------------------------


async def test_a_stopped_shim_across_a_restart(stack: Stack, busybox: None, tmp_path: Path) -> None:
    pod = pod_config("k-slow", tmp_path)
    channel, c = connect(stack)
    async with channel:
        sid = await run_pod(c, pod)
        cid = await start(c, sid, pod, container_config("app", ["sh", "-c", ECHO_ON_DEMAND]))
        await wait_log(tmp_path / "app.log", "started")
    shims = stack.containerd.shim_pids()
    assert shims
    stack.stop_hexcri(signal.SIGKILL)
    for pid in shims:
        os.kill(pid, signal.SIGSTOP)
    try:
        stack.start_hexcri()  # it serves from its record while the shim does not answer
        channel, c = connect(stack)
        async with channel:
            # containerd gives up on the shim after 2 s: hexcri asks again and keeps its record
            for _ in range(40):
                assert await listed(c) == (
                    {sid: cri.SANDBOX_READY},
                    {cid: cri.CONTAINER_RUNNING},
                )
                await asyncio.sleep(0.1)
    finally:
        for pid in shims:
            os.kill(pid, signal.SIGCONT)
    channel, c = connect(stack)
    async with channel:
        pods, containers = await states_agree(c, stack)
        assert (pods, containers) == ({sid: cri.SANDBOX_READY}, {cid: cri.CONTAINER_RUNNING})
        await say(c, cid, "after-sigcont")
        await wait_log(tmp_path / "app.log", "after-sigcont")
        await nothing_left(c, stack, sid)


async def test_the_fifos_of_a_cut_exec_are_removed_at_start(stack: Stack) -> None:
    """An exec cut by a crash left its FIFO directory (made before this start): it goes."""
    left = stack.root / "hexcri" / "state" / "exec" / "cut-by-a-crash"
    left.mkdir(parents=True)
    os.mkfifo(left / "stdout")
    stack.stop_hexcri(signal.SIGKILL)
    stack.start_hexcri()
    await until(lambda: not left.exists(), "the cut exec's FIFOs stay")
    assert not fifos_under(stack.root / "hexcri" / "state" / "exec")
