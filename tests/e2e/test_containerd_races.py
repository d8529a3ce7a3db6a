"""Issue 11, item 3 on the real stack, through hexcri's CRI socket only: concurrent calls on
one container (20 StartContainer at once; StopContainer or RemoveContainer racing
StartContainer) give one clear outcome each and leave no task, shim, FIFO or snapshot behind.
The calls are made from a thread pool on blocking channels, so that they reach hexcri at once.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from tests.e2e.conftest import Cri
from tests.e2e.test_containerd_containers import (
    container_config,
    create,
    fifos_under,
    pod_config,
    real,  # noqa: F401 - the fixture
    remove_pod_and_check,
    run_pod,
    status,
)
from tests.support.polling import settles
from tests.support.stack import Stack

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]

SLEEPER = ["sleep", "3600"]


def io_dirs(stack: Stack) -> list[str]:
    """The containers whose stdio FIFOs are in hexcri's state dir (named by their dirs)."""
    fifos = fifos_under(stack.root / "hexcri" / "state" / "io")
    return sorted({os.path.basename(os.path.dirname(f)) for f in fifos})


def _one_shim(stack: Stack, sandbox_id: str) -> bool:
    shims = stack.containerd.shim_pids()
    if len(shims) != 1:
        return False
    try:
        cmdline = Path(f"/proc/{shims[0]}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return sandbox_id.encode() in cmdline


async def one_shim_for_the_pod(stack: Stack, sandbox_id: str, seconds: float = 5) -> bool:
    """Whether containerd runs exactly one shim, the pod's (its containers' tasks share it:
    it is named by the pod's `-id` on its command line). containerd runs the shim binary
    briefly for each task it creates or deletes (`-id <container> start|delete`), so a leak
    is what is still there after a few seconds."""
    for _ in range(int(seconds / 0.1)):
        if _one_shim(stack, sandbox_id):
            return True
        await asyncio.sleep(0.1)
    return _one_shim(stack, sandbox_id)


def in_containerd(stack: Stack, object_id: str) -> list[str]:
    """Where containerd still knows `object_id`: container, task, writable snapshot."""
    ctr = stack.containerd.ctr
    places = {
        "container": ctr("containers", "ls", "-q").split(),
        "task": [line.split()[0] for line in ctr("tasks", "ls").splitlines()[1:] if line],
        "snapshot": [
            line.split()[0]
            for line in ctr("snapshots", "--snapshotter", "overlayfs", "ls").splitlines()[1:]
            if line
        ],
    }
    return [kind for kind, ids in places.items() if object_id in ids]


Outcome = tuple[str, grpc.StatusCode, str]


def at_once(stack: Stack, calls: list[tuple[str, object]]) -> list[Outcome]:
    """Make each (method, request) call on its own thread; (method, code, details) each."""
    with grpc.insecure_channel(f"unix://{stack.socket}") as channel:
        stub = cri_grpc.RuntimeServiceStub(channel)

        def call(item: tuple[str, object]) -> Outcome:
            method, request = item
            try:
                getattr(stub, method)(request, timeout=120)
            except grpc.RpcError as err:
                return method, err.code(), err.details() or ""
            return method, grpc.StatusCode.OK, ""

        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            return list(pool.map(call, calls))


async def test_twenty_parallel_starts_give_one_success_and_one_shim(
    real: Cri,  # noqa: F811
    stack: Stack,
    tmp_path: Path,
) -> None:
    pod = pod_config("race", tmp_path)
    sid = await run_pod(real, pod)
    cid = await create(real, sid, pod, container_config("app", SLEEPER))
    start = cri.StartContainerRequest(container_id=cid)
    outcomes = at_once(stack, [("StartContainer", start)] * 20)
    codes = Counter(code for _, code, _ in outcomes)
    print(f"20 parallel StartContainer: {dict(codes)}")
    assert codes == {grpc.StatusCode.OK: 1, grpc.StatusCode.FAILED_PRECONDITION: 19}, outcomes
    assert all("is RUNNING, not CREATED" in d for _, c, d in outcomes if c != grpc.StatusCode.OK)
    assert (await status(real, cid)).state == cri.CONTAINER_RUNNING
    assert io_dirs(stack) == [cid]  # its own FIFOs only, none made or removed by the losers
    assert "task" in in_containerd(stack, cid)
    assert await one_shim_for_the_pod(stack, sid)  # no shim started by a losing call
    await remove_pod_and_check(real, stack, sid)
    assert io_dirs(stack) == [] and not stack.containerd.shim_pids()


async def test_stop_or_remove_racing_start_leaves_nothing(
    real: Cri,  # noqa: F811
    stack: Stack,
    tmp_path: Path,
) -> None:
    """Either the start happened and the removal took it away, or the removal won and the
    start is NotFound; the stop either finds it running and stops it, or finds it created."""
    pod = pod_config("racing", tmp_path)
    sid = await run_pod(real, pod)
    seen: Counter[tuple[str, str]] = Counter()
    for n in range(6):
        cid = await create(real, sid, pod, container_config(f"app{n}", SLEEPER))
        start = ("StartContainer", cri.StartContainerRequest(container_id=cid))
        remove = ("RemoveContainer", cri.RemoveContainerRequest(container_id=cid))
        stop = ("StopContainer", cri.StopContainerRequest(container_id=cid, timeout=0))
        racing = [start, remove] if n % 2 else [remove, start]
        if n >= 4:
            racing = [start, stop, stop]
        outcomes = at_once(stack, racing)
        seen.update((method, code.name) for method, code, _ in outcomes)
        for method, code, details in outcomes:
            if method == "StartContainer":
                assert code in (grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND), details
            else:
                assert code == grpc.StatusCode.OK, (method, details)
        if n >= 4:
            state = (await status(real, cid)).state
            assert state in (cri.CONTAINER_EXITED, cri.CONTAINER_CREATED, cri.CONTAINER_RUNNING)
            if state == cri.CONTAINER_RUNNING:  # the start came after every stop
                assert outcomes[0][1] == grpc.StatusCode.OK
            await real.runtime.RemoveContainer(cri.RemoveContainerRequest(container_id=cid))
        listed = await real.runtime.ListContainers(cri.ListContainersRequest())
        assert cid not in [c.id for c in listed.containers]

        def cleaned_up(cid: str = cid) -> None:  # after the answer
            assert cid not in io_dirs(stack)
            assert _one_shim(stack, sid)
            assert not in_containerd(stack, cid)

        settles(cleaned_up)
    print(f"racing start/stop/remove outcomes: {dict(seen)}")
    await remove_pod_and_check(real, stack, sid)


async def test_pod_stop_or_removal_racing_container_create_and_start(
    real: Cri,  # noqa: F811
    stack: Stack,
    tmp_path: Path,
) -> None:
    """StopPodSandbox racing StartContainer: the container ends EXITED (started, then stopped
    with its pod) or stays CREATED (its start found the pod stopped), never running in a
    stopped pod. RemovePodSandbox racing CreateContainer: the container is created and
    removed with its pod, or the create finds no pod; nothing is left either way."""
    seen: Counter[tuple[str, str]] = Counter()
    for n in range(2):
        pod = pod_config(f"stopping{n}", tmp_path)
        sid = await run_pod(real, pod)
        cid = await create(real, sid, pod, container_config("app", SLEEPER))
        start = ("StartContainer", cri.StartContainerRequest(container_id=cid))
        stop = ("StopPodSandbox", cri.StopPodSandboxRequest(pod_sandbox_id=sid))
        outcomes = at_once(stack, [start, stop] if n else [stop, start])
        seen.update((method, code.name) for method, code, _ in outcomes)
        codes = {method: code for method, code, _ in outcomes}
        assert codes["StopPodSandbox"] == grpc.StatusCode.OK
        state = (await status(real, cid)).state
        if codes["StartContainer"] == grpc.StatusCode.OK:
            assert state == cri.CONTAINER_EXITED
        else:
            assert codes["StartContainer"] == grpc.StatusCode.FAILED_PRECONDITION
            assert state == cri.CONTAINER_CREATED
        assert not [t for t in stack.containerd.ctr("tasks", "ls").splitlines()[1:] if cid in t]
        await remove_pod_and_check(real, stack, sid)

    for n in range(2):
        pod = pod_config(f"removing{n}", tmp_path)
        sid = await run_pod(real, pod)
        config = container_config("app", SLEEPER)
        make = (
            "CreateContainer",
            cri.CreateContainerRequest(pod_sandbox_id=sid, config=config, sandbox_config=pod),
        )
        remove = ("RemovePodSandbox", cri.RemovePodSandboxRequest(pod_sandbox_id=sid))
        outcomes = at_once(stack, [make, remove] if n else [remove, make])
        seen.update((method, code.name) for method, code, _ in outcomes)
        codes = {method: code for method, code, _ in outcomes}
        assert codes["RemovePodSandbox"] == grpc.StatusCode.OK
        assert codes["CreateContainer"] in (grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND)
        await remove_pod_and_check(real, stack, sid)
        assert io_dirs(stack) == [] and not stack.containerd.shim_pids()
    print(f"pod stop/removal racing container start/create: {dict(seen)}")
