"""ContainerdRuntime against a real containerd, runc and a busybox image."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.containerd import api
from adapters.containerd.client import ContainerdClient
from adapters.containerd.runtime import ContainerdRuntime
from domain.errors import DeadlineExceeded, NotFound
from domain.logformat import parse_record
from domain.model import Image, TaskStatus
from domain.stdio import ContainerStdio
from ports.runtime import CreateRequest
from tests.integration.containerd.conftest import MakeContainer
from tests.support.containerd import Containerd, minimal_spec

pytestmark = pytest.mark.containerd


async def wait_status(runtime: ContainerdRuntime, cid: str, status: TaskStatus) -> None:
    while True:
        found = {c.id: c for c in await runtime.list()}[cid]
        if found.task == status:
            return
        await asyncio.sleep(0.05)


async def test_container_echoes_and_exits(
    runtime: ContainerdRuntime,
    container_io: ContainerStdio,
    make_container: MakeContainer,
    tmp_path: Path,
) -> None:
    log = tmp_path / "echo.log"
    cid = await make_container(["sh", "-c", "echo hello; echo oops >&2; exit 3"], log=str(log))
    listed = {c.id: c for c in await runtime.list()}
    assert listed[cid].task == TaskStatus.CREATED
    assert listed[cid].labels == {"io.hexcri.kind": "container"}
    pid = await runtime.start(cid)
    assert pid > 0
    await asyncio.wait_for(wait_status(runtime, cid, TaskStatus.STOPPED), 30)
    stopped = {c.id: c for c in await runtime.list()}[cid]
    assert stopped.exit_code == 3
    assert stopped.exited_at > 0
    await container_io.close(cid)
    records = [parse_record(line) for line in log.read_bytes().splitlines()]
    assert sorted((r[1].value, r[2], r[3]) for r in records) == [
        ("stderr", False, b"oops"),
        ("stdout", False, b"hello"),
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", r[0]) for r in records)
    await runtime.reap(cid)
    reaped = {c.id: c for c in await runtime.list()}[cid]
    assert reaped.task == TaskStatus.ABSENT
    await runtime.reap(cid)  # idempotent


async def test_long_running_container_is_killed(
    runtime: ContainerdRuntime, make_container: MakeContainer
) -> None:
    cid = await make_container(["sleep", "1000"])
    await runtime.start(cid)
    await runtime.kill(cid, signal.SIGKILL)
    await asyncio.wait_for(wait_status(runtime, cid, TaskStatus.STOPPED), 30)
    assert {c.id: c for c in await runtime.list()}[cid].exit_code == 128 + signal.SIGKILL
    await runtime.kill(cid, signal.SIGKILL)  # already exited: no error
    await runtime.reap(cid)
    await runtime.kill(cid, signal.SIGTERM)  # no task: no error


async def test_exec_sync_output_and_exit_code(
    runtime: ContainerdRuntime, make_container: MakeContainer
) -> None:
    cid = await make_container(["sleep", "1000"])
    await runtime.start(cid)
    result = await runtime.exec_sync(cid, ["sh", "-c", "echo out; echo err >&2; exit 7"], 30)
    assert result.stdout == b"out\n"
    assert result.stderr == b"err\n"
    assert result.exit_code == 7
    ok = await runtime.exec_sync(cid, ["cat", "/proc/1/cmdline"], None)
    assert ok.stdout == b"sleep\x001000\x00"
    assert ok.exit_code == 0


async def test_exec_sync_timeout_kills_the_process(
    runtime: ContainerdRuntime,
    make_container: MakeContainer,
    containerd_client: ContainerdClient,
) -> None:
    cid = await make_container(["sleep", "1000"])
    await runtime.start(cid)
    with pytest.raises(DeadlineExceeded):
        await runtime.exec_sync(cid, ["sleep", "77"], 0.5)
    pids = await containerd_client.tasks.ListPids(api.tasks.ListPidsRequest(container_id=cid))
    assert len(pids.processes) == 1  # only the init process is left
    follow = await runtime.exec_sync(cid, ["echo", "still fine"], 30)
    assert follow.stdout == b"still fine\n"


async def test_update_resources_reaches_the_cgroup(
    containerd: Containerd, runtime: ContainerdRuntime, make_container: MakeContainer
) -> None:
    cid = await make_container(["sleep", "1000"])
    await runtime.start(cid)
    limit = 64 * 1024 * 1024
    await runtime.update_resources(cid, {"memory": {"limit": limit}, "cpu": {"shares": 512}})
    cgroup = Path("/sys/fs/cgroup")
    relative = f"{containerd.cgroup_parent.lstrip('/')}/{cid}"
    assert int((cgroup / "memory" / relative / "memory.limit_in_bytes").read_text()) == limit
    assert int((cgroup / "cpu" / relative / "cpu.shares").read_text()) == 512


async def test_stats_report_cpu_and_memory(
    runtime: ContainerdRuntime, make_container: MakeContainer
) -> None:
    cid = await make_container(
        ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 1000"]
    )
    await runtime.start(cid)
    await asyncio.sleep(0.3)
    stats = await runtime.stats(cid)
    assert stats.container_id == cid
    assert stats.cpu_usage_core_ns > 0
    assert stats.memory_usage_bytes > 0
    assert 0 < stats.memory_working_set_bytes <= stats.memory_usage_bytes
    assert stats.timestamp > 0


async def test_delete_leaves_nothing(
    runtime: ContainerdRuntime,
    make_container: MakeContainer,
    containerd_client: ContainerdClient,
) -> None:
    cid = await make_container(["sleep", "1000"])
    await runtime.start(cid)
    await runtime.delete(cid)  # running: killed first
    await runtime.delete(cid)  # idempotent
    containers = await containerd_client.containers.List(api.containers.ListContainersRequest())
    assert cid not in [c.id for c in containers.containers]
    tasks = await containerd_client.tasks.List(api.tasks.ListTasksRequest())
    assert cid not in [t.id for t in tasks.tasks]
    snapshots = [
        s.name
        async for reply in containerd_client.snapshots.List(
            api.snapshots.ListSnapshotsRequest(snapshotter="overlayfs")
        )
        for s in reply.info
    ]
    assert cid not in snapshots
    with pytest.raises(NotFound):
        await runtime.start(cid)


async def _leftovers(client: ContainerdClient, cid: str) -> list[str]:
    containers = await client.containers.List(api.containers.ListContainersRequest())
    tasks = await client.tasks.List(api.tasks.ListTasksRequest())
    snapshots = [
        s.name
        async for reply in client.snapshots.List(
            api.snapshots.ListSnapshotsRequest(snapshotter="overlayfs")
        )
        for s in reply.info
    ]
    leases = await client.leases.List(api.leases.ListRequest())
    return [
        *(f"container {c.id}" for c in containers.containers if c.id == cid),
        *(f"task {t.id}" for t in tasks.tasks if t.id == cid),
        *(f"snapshot {name}" for name in snapshots if name == cid),
        *(f"lease {lease.id}" for lease in leases.leases if cid in lease.id),
    ]


async def test_failed_create_is_rolled_back(
    containerd: Containerd,
    runtime: ContainerdRuntime,
    containerd_client: ContainerdClient,
    busybox_image: Image,
) -> None:
    cid = secrets.token_hex(32)
    request = CreateRequest(
        id=cid,
        sandbox_id=cid,
        image=busybox_image,
        spec=minimal_spec(["true"], f"{containerd.cgroup_parent}/{cid}"),
        labels={"too-long": "x" * 5000},  # containerd refuses it after the snapshot is made
    )
    with pytest.raises(Exception):  # noqa: B017 - whatever containerd says, nothing must stay
        await runtime.create(request)
    assert await _leftovers(containerd_client, cid) == []


async def test_failed_start_leaves_a_container_that_delete_removes(
    containerd: Containerd,
    runtime: ContainerdRuntime,
    containerd_client: ContainerdClient,
    busybox_image: Image,
) -> None:
    """runc's refusals come from `start` (the task is made there), as with containerd's CRI."""
    cid = secrets.token_hex(32)
    await runtime.create(
        CreateRequest(
            id=cid,
            sandbox_id=cid,
            image=busybox_image,
            spec=minimal_spec(["/no/such/binary"], f"{containerd.cgroup_parent}/{cid}"),
        )
    )
    with pytest.raises(Exception, match="/no/such/binary"):
        await runtime.start(cid)
    await runtime.delete(cid)
    assert await _leftovers(containerd_client, cid) == []


async def test_created_container_starts_after_a_restart(
    containerd: Containerd,
    runtime: ContainerdRuntime,
    container_io: ContainerStdio,
    containerd_client: ContainerdClient,
    busybox_image: Image,
    tmp_path: Path,
) -> None:
    """The task's stdio is kept in containerd: a new runtime (hexcri restarted) starts it."""
    cid = secrets.token_hex(32)
    log = tmp_path / "later.log"
    stdio = await container_io.open(cid, str(log), False, False)
    await runtime.create(
        CreateRequest(
            id=cid,
            sandbox_id=cid,
            image=busybox_image,
            spec=minimal_spec(["echo", "later"], f"{containerd.cgroup_parent}/{cid}"),
            stdio=stdio,
        )
    )
    restarted = ContainerdRuntime(containerd_client, str(containerd.root / "hexcri-state"))
    try:
        assert {c.id: c for c in await restarted.list()}[cid].task == TaskStatus.CREATED
        assert await restarted.start(cid) > 0
        await asyncio.wait_for(wait_status(restarted, cid, TaskStatus.STOPPED), 30)
        await container_io.close(cid)
        assert [parse_record(line)[3] for line in log.read_bytes().splitlines()] == [b"later"]
        await restarted.reap(cid)
        assert {c.id: c for c in await restarted.list()}[cid].task == TaskStatus.ABSENT
    finally:
        await restarted.delete(cid)
        await container_io.close(cid)
    assert await _leftovers(containerd_client, cid) == []


async def test_ready(runtime: ContainerdRuntime) -> None:
    assert await runtime.ready()
    down = ContainerdRuntime(
        ContainerdClient("/tmp/hexcri-none.sock", reconnect_timeout=0.1), "/tmp"
    )
    assert not await down.ready()


async def test_release_interrupted_removes_only_what_older_calls_left(
    containerd: Containerd, runtime: ContainerdRuntime, containerd_client: ContainerdClient
) -> None:
    """Exec FIFOs, hexcri leases and ingests made before a start go; later ones and
    others' stay. A shim blocked opening an exec FIFO's write end is let go."""
    c = containerd_client
    exec_dir = containerd.root / "hexcri-state" / "exec" / "cut"
    exec_dir.mkdir(parents=True)
    os.mkfifo(exec_dir / "stdout")
    blocked = asyncio.create_task(
        asyncio.to_thread(lambda: os.close(os.open(exec_dir / "stdout", os.O_WRONLY)))
    )  # as a shim opening its end waits for a reader
    for lease in ("hexcri-create-cut", "hexcri-pull-cut", "someone-else"):
        await c.leases.Create(api.leases.CreateRequest(id=lease))
    ingest = await _open_ingest(c, "hexcri-sha256:cut-1234")
    theirs = await _open_ingest(c, "someone-sha256:x")
    await asyncio.sleep(0.01)
    started = time.time_ns()
    await c.leases.Create(api.leases.CreateRequest(id="hexcri-create-running"))
    try:
        await runtime.release_interrupted(started)
        await asyncio.wait_for(blocked, 10)
        assert not exec_dir.exists()
        leases = {lease.id for lease in (await c.leases.List(api.leases.ListRequest())).leases}
        assert leases == {"someone-else", "hexcri-create-running"}
        active = await c.content.ListStatuses(api.content.ListStatusesRequest())
        assert {s.ref for s in active.statuses} == {"someone-sha256:x"}
        await runtime.release_interrupted(started)  # idempotent
    finally:
        for call in (ingest, theirs):
            call.cancel()
        with contextlib.suppress(Exception):
            await c.content.Abort(api.content.AbortRequest(ref="someone-sha256:x"))
        for lease in ("someone-else", "hexcri-create-running"):
            await c.leases.Delete(api.leases.DeleteRequest(id=lease))


async def _open_ingest(client: ContainerdClient, ref: str) -> Any:
    """A content ingest left open with a few bytes written (as a pull cut by a crash)."""

    async def requests() -> AsyncIterator[Any]:
        yield api.content.WriteContentRequest(
            action=api.content.WRITE, ref=ref, offset=0, data=b"partial", total=100
        )
        await asyncio.Event().wait()  # the writer never comes back

    call = client.content.Write(requests())
    await call.read()
    return call
