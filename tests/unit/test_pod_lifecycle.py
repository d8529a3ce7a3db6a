"""Sandbox and container use cases on the memory fakes."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from adapters.memory.backend import MemoryBackend
from domain.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from domain.filters import ContainerFilter, SandboxFilter
from domain.logformat import Stream
from domain.model import (
    ContainerState,
    LinuxResources,
    NamespaceMode,
    NamespaceOptions,
    SandboxSecurity,
    SandboxState,
)
from tests.support.harness import Harness
from tests.unit.conftest import container, pod, settle


async def run_app(ctx: Harness, sandbox_id: str, **kw: object) -> str:
    await ctx.image_pull.pull_image("busybox")
    cid = await ctx.container_create.create_container(sandbox_id, container(**kw))
    await ctx.container_start.start_container(cid)
    return cid


async def test_run_pod_sandbox_sets_up_everything(ctx: Harness, backend: MemoryBackend) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod(hostname="web-0"))
    sandbox = ctx.sandbox_query.pod_sandbox_status(sid)
    assert sandbox.state == SandboxState.READY
    assert sandbox.ips == ("10.88.0.2",)
    assert sandbox.netns_path in backend.netns.paths
    assert backend.runtime.has(sid)
    assert backend.files.files[sid]["hostname"] == "web-0\n"
    assert backend.images.pull_count == 1  # the sandbox image was pulled on first use


async def test_host_network_pod_gets_no_namespace(ctx: Harness, backend: MemoryBackend) -> None:
    host = SandboxSecurity(namespace_options=NamespaceOptions(network=NamespaceMode.NODE))
    sid = await ctx.sandbox_run.run_pod_sandbox(pod(security=host))
    assert ctx.sandbox_query.pod_sandbox_status(sid).ips == ()
    assert not backend.netns.paths and not backend.network.allocations


async def test_names_are_reserved(ctx: Harness) -> None:
    await ctx.sandbox_run.run_pod_sandbox(pod())
    with pytest.raises(AlreadyExists):
        await ctx.sandbox_run.run_pod_sandbox(pod())
    assert len(ctx.sandbox_query.list_pod_sandboxes()) == 1


async def test_failed_run_leaves_nothing(ctx: Harness, backend: MemoryBackend) -> None:
    backend.network.ready = False
    with pytest.raises(FailedPrecondition):
        await ctx.sandbox_run.run_pod_sandbox(pod())
    assert not ctx.sandbox_query.list_pod_sandboxes()
    assert not backend.netns.paths and not backend.state.sandboxes and not backend.files.files
    assert not await backend.runtime.list()
    backend.network.ready = True
    await ctx.sandbox_run.run_pod_sandbox(pod())  # the name was released


@pytest.mark.parametrize("field", ["name", "uid", "namespace"])
async def test_sandbox_metadata_required(ctx: Harness, field: str) -> None:
    with pytest.raises(InvalidArgument, match=field):
        await ctx.sandbox_run.run_pod_sandbox(pod(**{field: ""}))


async def test_container_runs_logs_and_exits(ctx: Harness, tmp_path: Path) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod(log_directory=str(tmp_path)))
    cid = await run_app(
        ctx, sid, command=("sh", "-c", "echo hello; echo world; exit 3"), log_path="app/0.log"
    )
    await settle()
    c = ctx.container_query.container_status(cid)
    assert (c.state, c.exit_code, c.reason) == (ContainerState.EXITED, 3, "Error")
    assert c.started_at <= c.finished_at
    lines = (tmp_path / "app" / "0.log").read_text().splitlines()
    assert [line.split(" ", 3)[1:] for line in lines] == [
        ["stdout", "F", "hello"],
        ["stdout", "F", "world"],
    ]


async def test_stop_container_with_grace(ctx: Harness) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    cid = await run_app(ctx, sid, command=("server",))
    assert ctx.container_query.container_status(cid).state == ContainerState.RUNNING
    await ctx.container_stop.stop_container(cid, 10)
    c = ctx.container_query.container_status(cid)
    assert (c.state, c.exit_code) == (ContainerState.EXITED, 143)
    await ctx.container_stop.stop_container(cid, 10)  # idempotent


async def test_container_name_reserved_until_removed(ctx: Harness) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    cid = await run_app(ctx, sid, command=("true",))
    with pytest.raises(AlreadyExists):
        await ctx.container_create.create_container(sid, container())
    await ctx.container_remove.remove_container(cid)
    await ctx.container_remove.remove_container(cid)  # NotFound is success
    await ctx.container_create.create_container(sid, container())


async def test_create_in_not_ready_sandbox_fails(ctx: Harness) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    await ctx.image_pull.pull_image("busybox")
    await ctx.sandbox_stop.stop_pod_sandbox(sid)
    with pytest.raises(FailedPrecondition):
        await ctx.container_create.create_container(sid, container())
    with pytest.raises(NotFound):
        await ctx.container_create.create_container("f" * 64, container())
    assert not ctx.container_query.list_containers()


async def test_missing_image_is_not_found(ctx: Harness) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    with pytest.raises(NotFound, match="nginx"):
        await ctx.container_create.create_container(sid, container(image="nginx"))


async def test_stop_sandbox_kills_containers_and_frees_network(
    ctx: Harness, backend: MemoryBackend
) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    cid = await run_app(ctx, sid, command=("server",))
    await ctx.sandbox_stop.stop_pod_sandbox(sid)
    assert ctx.container_query.container_status(cid).state == ContainerState.EXITED
    assert ctx.sandbox_query.pod_sandbox_status(sid).state == SandboxState.NOTREADY
    assert not backend.network.allocations and not backend.netns.paths
    await ctx.sandbox_stop.stop_pod_sandbox(sid)  # idempotent
    await ctx.sandbox_remove.remove_pod_sandbox(sid)
    assert not ctx.container_query.list_containers()
    assert not await backend.runtime.list()
    assert not backend.state.sandboxes and not backend.state.containers
    await ctx.sandbox_remove.remove_pod_sandbox(sid)


async def test_filters(ctx: Harness) -> None:
    a = await ctx.sandbox_run.run_pod_sandbox(pod("a", uid="1", labels={"app": "x"}))
    b = await ctx.sandbox_run.run_pod_sandbox(pod("b", uid="2", labels={"app": "y"}))
    ca = await run_app(ctx, a, command=("server",), labels={"tier": "web"})
    await run_app(ctx, b, command=("true",))
    await settle()
    ids = lambda items: {i.id for i in items}  # noqa: E731
    assert ids(
        ctx.sandbox_query.list_pod_sandboxes(SandboxFilter(label_selector={"app": "x"}))
    ) == {a}
    assert ids(ctx.sandbox_query.list_pod_sandboxes(SandboxFilter(id=b[:6]))) == {b}
    assert ids(ctx.container_query.list_containers(ContainerFilter(sandbox_id=a))) == {ca}
    assert ids(
        ctx.container_query.list_containers(ContainerFilter(state=ContainerState.RUNNING))
    ) == {ca}
    assert ids(
        ctx.container_query.list_containers(ContainerFilter(label_selector={"tier": "web"}))
    ) == {ca}
    with pytest.raises(InvalidArgument):
        ctx.container_query.list_containers(ContainerFilter(label_selector={"": "x"}))


async def test_exec_sync_and_timeout(ctx: Harness) -> None:
    from domain.errors import DeadlineExceeded

    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    cid = await run_app(ctx, sid, command=("server",))
    result = await ctx.container_exec.exec_sync(cid, ["sh", "-c", "echo hi; exit 2"])
    assert (result.stdout, result.exit_code) == (b"hi\n", 2)
    with pytest.raises(DeadlineExceeded):
        await ctx.container_exec.exec_sync(cid, ["sleep", "5"], timeout=1)
    with pytest.raises(InvalidArgument):
        await ctx.container_exec.exec_sync(cid, [])


async def test_update_resources(ctx: Harness, backend: MemoryBackend) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    cid = await run_app(ctx, sid, command=("server",))
    res = LinuxResources(cpu_shares=512, memory_limit_in_bytes=64 << 20)
    await ctx.container_update.update_container_resources(cid, res)
    applied = backend.runtime.resources_of(cid)
    assert applied["cpu"]["shares"] == 512
    assert applied["memory"] == {"limit": 64 << 20, "swap": 64 << 20}
    assert ctx.container_query.container_status(cid).resources == res


async def test_update_resources_before_start(ctx: Harness, backend: MemoryBackend) -> None:
    """Resources updated while CREATED are the ones the task starts with."""
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    await ctx.image_pull.pull_image("busybox")
    cid = await ctx.container_create.create_container(sid, container(command=("server",)))
    res = LinuxResources(cpu_shares=300, memory_limit_in_bytes=32 << 20)
    await ctx.container_update.update_container_resources(cid, res)
    await ctx.container_start.start_container(cid)
    applied = backend.runtime.resources_of(cid)
    assert (applied["cpu"]["shares"], applied["memory"]["limit"]) == (300, 32 << 20)
    assert ctx.container_query.container_status(cid).resources == res


async def test_partial_updates_accumulate_before_start(
    ctx: Harness, backend: MemoryBackend
) -> None:
    """Two updates of a CREATED container, each naming some fields: the task starts with the
    created limits they did not name too (containerd updates the spec field by field)."""
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    await ctx.image_pull.pull_image("busybox")
    created = LinuxResources(cpu_period=100000, cpu_quota=50000)
    cid = await ctx.container_create.create_container(
        sid, container(command=("server",), resources=created)
    )
    await ctx.container_update.update_container_resources(
        cid, LinuxResources(memory_limit_in_bytes=32 << 20)
    )
    await ctx.container_update.update_container_resources(cid, LinuxResources(cpu_shares=300))
    await ctx.container_start.start_container(cid)
    applied = backend.runtime.resources_of(cid)
    assert applied["cpu"] == {"period": 100000, "quota": 50000, "shares": 300}
    assert applied["memory"]["limit"] == 32 << 20
    status = ctx.container_query.container_status(cid).resources
    assert status == LinuxResources(
        cpu_period=100000, cpu_quota=50000, cpu_shares=300, memory_limit_in_bytes=32 << 20
    )


async def test_oom_kill_reason(ctx: Harness, backend: MemoryBackend) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    cid = await run_app(ctx, sid, command=("server",))
    backend.runtime.oom_kill(cid)
    await settle()
    c = ctx.container_query.container_status(cid)
    assert (c.state, c.exit_code, c.reason) == (ContainerState.EXITED, 137, "OOMKilled")


async def test_reopen_log_after_rotation(
    ctx: Harness, backend: MemoryBackend, tmp_path: Path
) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod(log_directory=str(tmp_path)))
    cid = await run_app(ctx, sid, command=("server",), log_path="c.log")
    backend.io.emit(cid, Stream.STDOUT, b"one\n")
    os.rename(tmp_path / "c.log", tmp_path / "c.log.1")
    await ctx.container_exec.reopen_container_log(cid)
    backend.io.emit(cid, Stream.STDOUT, b"two\n")
    assert (tmp_path / "c.log.1").read_text().endswith("one\n")
    assert (tmp_path / "c.log").read_text().endswith("two\n")


async def test_devices_come_from_the_host(ctx: Harness, backend: MemoryBackend) -> None:
    from domain.model import Device

    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    await ctx.image_pull.pull_image("busybox")
    fuse = Device(container_path="/dev/fuse", host_path="/dev/fuse")
    cid = await ctx.container_create.create_container(sid, container(devices=(fuse,)))
    devices = backend.runtime.spec_of(cid)["linux"]["devices"]  # type: ignore[index]
    assert {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}.items() <= next(
        d for d in devices if d["path"] == "/dev/fuse"
    ).items()
    missing = Device(container_path="/dev/x", host_path="/dev/nope")
    with pytest.raises(NotFound):
        await ctx.container_create.create_container(sid, container("y", devices=(missing,)))
    assert [c.id for c in ctx.container_query.list_containers()] == [cid]


async def test_target_pid_namespace(ctx: Harness, backend: MemoryBackend) -> None:
    from domain.model import ContainerSecurity

    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    target = await run_app(ctx, sid, command=("server",))
    pid = ctx.container_query.container_status(target).pid
    options = NamespaceOptions(pid=NamespaceMode.TARGET, target_id=target)
    debug = await ctx.container_create.create_container(
        sid, container("debug", security=ContainerSecurity(namespace_options=options))
    )
    namespaces = backend.runtime.spec_of(debug)["linux"]["namespaces"]  # type: ignore[index]
    assert {"type": "pid", "path": f"/proc/{pid}/ns/pid"} in namespaces


async def test_pod_gets_a_shm_unless_it_shares_the_host_ipc(
    ctx: Harness, backend: MemoryBackend
) -> None:
    own = await ctx.sandbox_run.run_pod_sandbox(pod("own", uid="1"))
    host = SandboxSecurity(namespace_options=NamespaceOptions(ipc=NamespaceMode.NODE))
    shared = await ctx.sandbox_run.run_pod_sandbox(pod("host", uid="2", security=host))
    assert backend.files.shm == {own: 64 << 20, shared: 0}


async def test_failed_network_waits_for_the_pause_create_then_rolls_it_back(
    ctx: Harness, backend: MemoryBackend
) -> None:
    create = backend.runtime.create
    finished = []

    async def slow_create(request):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.05)
        await create(request)
        finished.append(request.id)

    backend.runtime.create = slow_create  # type: ignore[method-assign]
    backend.network.ready = False
    with pytest.raises(FailedPrecondition):
        await ctx.sandbox_run.run_pod_sandbox(pod())
    assert finished  # the create was waited for, so the rollback could delete it
    assert not await backend.runtime.list() and not backend.files.files


async def test_hosts_file_names_the_pod_ip(ctx: Harness, backend: MemoryBackend) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod(hostname="web-0"))
    ip = ctx.sandbox_query.pod_sandbox_status(sid).ips[0]
    assert f"{ip}\tweb-0" in backend.files.files[sid]["hosts"]


async def test_repeated_stops_tear_the_network_down_once(
    ctx: Harness, backend: MemoryBackend
) -> None:
    teardown = backend.network.teardown
    calls = []

    async def counted(request):  # type: ignore[no-untyped-def]
        calls.append(request.sandbox_id)
        await teardown(request)

    backend.network.teardown = counted  # type: ignore[method-assign]
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    for _ in range(3):
        await ctx.sandbox_stop.stop_pod_sandbox(sid)
    await ctx.sandbox_remove.remove_pod_sandbox(sid)
    assert calls == [sid]


async def test_seccomp_profiles_from_the_node(ctx: Harness, backend: MemoryBackend) -> None:
    from domain.model import ContainerSecurity, SandboxSecurity, SecurityProfile

    path = "/var/lib/kubelet/seccomp/audit.json"
    mine = {"defaultAction": "SCMP_ACT_LOG"}
    local = SecurityProfile(kind="Localhost", localhost_ref=path)
    with pytest.raises(NotFound, match="audit"):
        await ctx.sandbox_run.run_pod_sandbox(pod(security=SandboxSecurity(seccomp=local)))
    assert ctx.sandbox_query.list_pod_sandboxes() == [] and not backend.network.allocations
    backend.profiles.seccomp_profiles[path] = mine
    sid = await ctx.sandbox_run.run_pod_sandbox(pod(security=SandboxSecurity(seccomp=local)))
    assert backend.runtime.spec_of(sid)["linux"]["seccomp"] == mine  # type: ignore[index]
    await ctx.image_pull.pull_image("busybox")
    default = ContainerSecurity(seccomp=SecurityProfile(kind="RuntimeDefault"))
    cid = await ctx.container_create.create_container(sid, container(security=default))
    seccomp = backend.runtime.spec_of(cid)["linux"]["seccomp"]  # type: ignore[index]
    assert seccomp["defaultAction"] == "SCMP_ACT_ERRNO"  # type: ignore[index]
    missing = SecurityProfile(kind="Localhost", localhost_ref="/nope.json")
    with pytest.raises(NotFound):
        await ctx.container_create.create_container(
            sid, container("y", security=ContainerSecurity(seccomp=missing))
        )
    assert [c.id for c in ctx.container_query.list_containers()] == [cid]
