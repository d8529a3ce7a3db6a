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
from domain.services import (
    container_create,
    container_exec,
    container_query,
    container_remove,
    container_start,
    container_stop,
    container_update,
    image_pull,
    sandbox_query,
    sandbox_remove,
    sandbox_run,
    sandbox_stop,
)
from domain.services.context import Context
from tests.unit.conftest import container, pod, settle


async def run_app(ctx: Context, sandbox_id: str, **kw: object) -> str:
    await image_pull.pull_image(ctx, "busybox")
    cid = await container_create.create_container(ctx, sandbox_id, container(**kw))
    await container_start.start_container(ctx, cid)
    return cid


async def test_run_pod_sandbox_sets_up_everything(ctx: Context, backend: MemoryBackend) -> None:
    sid = await sandbox_run.run_pod_sandbox(ctx, pod(hostname="web-0"))
    sandbox = sandbox_query.pod_sandbox_status(ctx, sid)
    assert sandbox.state == SandboxState.READY
    assert sandbox.ips == ("10.88.0.2",)
    assert sandbox.netns_path in backend.netns.paths
    assert backend.runtime.has(sid)
    assert backend.files.files[sid]["hostname"] == "web-0\n"
    assert backend.images.pull_count == 1  # the sandbox image was pulled on first use


async def test_host_network_pod_gets_no_namespace(ctx: Context, backend: MemoryBackend) -> None:
    host = SandboxSecurity(namespace_options=NamespaceOptions(network=NamespaceMode.NODE))
    sid = await sandbox_run.run_pod_sandbox(ctx, pod(security=host))
    assert sandbox_query.pod_sandbox_status(ctx, sid).ips == ()
    assert not backend.netns.paths and not backend.network.allocations


async def test_names_are_reserved(ctx: Context) -> None:
    await sandbox_run.run_pod_sandbox(ctx, pod())
    with pytest.raises(AlreadyExists):
        await sandbox_run.run_pod_sandbox(ctx, pod())
    assert len(sandbox_query.list_pod_sandboxes(ctx)) == 1


async def test_failed_run_leaves_nothing(ctx: Context, backend: MemoryBackend) -> None:
    backend.network.ready = False
    with pytest.raises(FailedPrecondition):
        await sandbox_run.run_pod_sandbox(ctx, pod())
    assert not sandbox_query.list_pod_sandboxes(ctx)
    assert not backend.netns.paths and not backend.state.sandboxes and not backend.files.files
    assert not await backend.runtime.list()
    backend.network.ready = True
    await sandbox_run.run_pod_sandbox(ctx, pod())  # the name was released


@pytest.mark.parametrize("field", ["name", "uid", "namespace"])
async def test_sandbox_metadata_required(ctx: Context, field: str) -> None:
    with pytest.raises(InvalidArgument, match=field):
        await sandbox_run.run_pod_sandbox(ctx, pod(**{field: ""}))


async def test_container_runs_logs_and_exits(ctx: Context, tmp_path: Path) -> None:
    sid = await sandbox_run.run_pod_sandbox(ctx, pod(log_directory=str(tmp_path)))
    cid = await run_app(
        ctx, sid, command=("sh", "-c", "echo hello; echo world; exit 3"), log_path="app/0.log"
    )
    await settle()
    c = container_query.container_status(ctx, cid)
    assert (c.state, c.exit_code, c.reason) == (ContainerState.EXITED, 3, "Error")
    assert c.started_at <= c.finished_at
    lines = (tmp_path / "app" / "0.log").read_text().splitlines()
    assert [line.split(" ", 3)[1:] for line in lines] == [
        ["stdout", "F", "hello"],
        ["stdout", "F", "world"],
    ]


async def test_stop_container_with_grace(ctx: Context) -> None:
    sid = await sandbox_run.run_pod_sandbox(ctx, pod())
    cid = await run_app(ctx, sid, command=("server",))
    assert container_query.container_status(ctx, cid).state == ContainerState.RUNNING
    await container_stop.stop_container(ctx, cid, 10)
    c = container_query.container_status(ctx, cid)
    assert (c.state, c.exit_code) == (ContainerState.EXITED, 143)
    await container_stop.stop_container(ctx, cid, 10)  # idempotent


async def test_container_name_reserved_until_removed(ctx: Context) -> None:
    sid = await sandbox_run.run_pod_sandbox(ctx, pod())
    cid = await run_app(ctx, sid, command=("true",))
    with pytest.raises(AlreadyExists):
        await container_create.create_container(ctx, sid, container())
    await container_remove.remove_container(ctx, cid)
    await container_remove.remove_container(ctx, cid)  # NotFound is success
    await container_create.create_container(ctx, sid, container())


async def test_create_in_not_ready_sandbox_fails(ctx: Context) -> None:
    sid = await sandbox_run.run_pod_sandbox(ctx, pod())
    await image_pull.pull_image(ctx, "busybox")
    await sandbox_stop.stop_pod_sandbox(ctx, sid)
    with pytest.raises(FailedPrecondition):
        await container_create.create_container(ctx, sid, container())
    with pytest.raises(NotFound):
        await container_create.create_container(ctx, "f" * 64, container())
    assert not container_query.list_containers(ctx)


async def test_missing_image_is_not_found(ctx: Context) -> None:
    sid = await sandbox_run.run_pod_sandbox(ctx, pod())
    with pytest.raises(NotFound, match="nginx"):
        await container_create.create_container(ctx, sid, container(image="nginx"))


async def test_stop_sandbox_kills_containers_and_frees_network(
    ctx: Context, backend: MemoryBackend
) -> None:
    sid = await sandbox_run.run_pod_sandbox(ctx, pod())
    cid = await run_app(ctx, sid, command=("server",))
    await sandbox_stop.stop_pod_sandbox(ctx, sid)
    assert container_query.container_status(ctx, cid).state == ContainerState.EXITED
    assert sandbox_query.pod_sandbox_status(ctx, sid).state == SandboxState.NOTREADY
    assert not backend.network.allocations and not backend.netns.paths
    await sandbox_stop.stop_pod_sandbox(ctx, sid)  # idempotent
    await sandbox_remove.remove_pod_sandbox(ctx, sid)
    assert not container_query.list_containers(ctx)
    assert not await backend.runtime.list()
    assert not backend.state.sandboxes and not backend.state.containers
    await sandbox_remove.remove_pod_sandbox(ctx, sid)


async def test_filters(ctx: Context) -> None:
    a = await sandbox_run.run_pod_sandbox(ctx, pod("a", uid="1", labels={"app": "x"}))
    b = await sandbox_run.run_pod_sandbox(ctx, pod("b", uid="2", labels={"app": "y"}))
    ca = await run_app(ctx, a, command=("server",), labels={"tier": "web"})
    await run_app(ctx, b, command=("true",))
    await settle()
    ids = lambda items: {i.id for i in items}  # noqa: E731
    assert ids(
        sandbox_query.list_pod_sandboxes(ctx, SandboxFilter(label_selector={"app": "x"}))
    ) == {a}
    assert ids(sandbox_query.list_pod_sandboxes(ctx, SandboxFilter(id=b[:6]))) == {b}
    assert ids(container_query.list_containers(ctx, ContainerFilter(sandbox_id=a))) == {ca}
    assert ids(
        container_query.list_containers(ctx, ContainerFilter(state=ContainerState.RUNNING))
    ) == {ca}
    assert ids(
        container_query.list_containers(ctx, ContainerFilter(label_selector={"tier": "web"}))
    ) == {ca}
    with pytest.raises(InvalidArgument):
        container_query.list_containers(ctx, ContainerFilter(label_selector={"": "x"}))


async def test_exec_sync_and_timeout(ctx: Context) -> None:
    from domain.errors import DeadlineExceeded

    sid = await sandbox_run.run_pod_sandbox(ctx, pod())
    cid = await run_app(ctx, sid, command=("server",))
    result = await container_exec.exec_sync(ctx, cid, ["sh", "-c", "echo hi; exit 2"])
    assert (result.stdout, result.exit_code) == (b"hi\n", 2)
    with pytest.raises(DeadlineExceeded):
        await container_exec.exec_sync(ctx, cid, ["sleep", "5"], timeout=1)
    with pytest.raises(InvalidArgument):
        await container_exec.exec_sync(ctx, cid, [])


async def test_update_resources(ctx: Context, backend: MemoryBackend) -> None:
    sid = await sandbox_run.run_pod_sandbox(ctx, pod())
    cid = await run_app(ctx, sid, command=("server",))
    res = LinuxResources(cpu_shares=512, memory_limit_in_bytes=64 << 20)
    await container_update.update_container_resources(ctx, cid, res)
    applied = backend.runtime.resources_of(cid)
    assert applied["cpu"]["shares"] == 512
    assert applied["memory"] == {"limit": 64 << 20, "swap": 64 << 20}
    assert container_query.container_status(ctx, cid).resources == res


async def test_update_resources_before_start(ctx: Context, backend: MemoryBackend) -> None:
    """Resources updated while CREATED are the ones the task starts with."""
    sid = await sandbox_run.run_pod_sandbox(ctx, pod())
    await image_pull.pull_image(ctx, "busybox")
    cid = await container_create.create_container(ctx, sid, container(command=("server",)))
    res = LinuxResources(cpu_shares=300, memory_limit_in_bytes=32 << 20)
    await container_update.update_container_resources(ctx, cid, res)
    await container_start.start_container(ctx, cid)
    applied = backend.runtime.resources_of(cid)
    assert (applied["cpu"]["shares"], applied["memory"]["limit"]) == (300, 32 << 20)
    assert container_query.container_status(ctx, cid).resources == res


async def test_oom_kill_reason(ctx: Context, backend: MemoryBackend) -> None:
    sid = await sandbox_run.run_pod_sandbox(ctx, pod())
    cid = await run_app(ctx, sid, command=("server",))
    backend.runtime.oom_kill(cid)
    await settle()
    c = container_query.container_status(ctx, cid)
    assert (c.state, c.exit_code, c.reason) == (ContainerState.EXITED, 137, "OOMKilled")


async def test_reopen_log_after_rotation(
    ctx: Context, backend: MemoryBackend, tmp_path: Path
) -> None:
    sid = await sandbox_run.run_pod_sandbox(ctx, pod(log_directory=str(tmp_path)))
    cid = await run_app(ctx, sid, command=("server",), log_path="c.log")
    backend.io.emit(cid, Stream.STDOUT, b"one\n")
    os.rename(tmp_path / "c.log", tmp_path / "c.log.1")
    await container_exec.reopen_container_log(ctx, cid)
    backend.io.emit(cid, Stream.STDOUT, b"two\n")
    assert (tmp_path / "c.log.1").read_text().endswith("one\n")
    assert (tmp_path / "c.log").read_text().endswith("two\n")


async def test_devices_come_from_the_host(ctx: Context, backend: MemoryBackend) -> None:
    from domain.model import Device

    sid = await sandbox_run.run_pod_sandbox(ctx, pod())
    await image_pull.pull_image(ctx, "busybox")
    fuse = Device(container_path="/dev/fuse", host_path="/dev/fuse")
    cid = await container_create.create_container(ctx, sid, container(devices=(fuse,)))
    devices = backend.runtime.spec_of(cid)["linux"]["devices"]  # type: ignore[index]
    assert {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}.items() <= next(
        d for d in devices if d["path"] == "/dev/fuse"
    ).items()
    missing = Device(container_path="/dev/x", host_path="/dev/nope")
    with pytest.raises(NotFound):
        await container_create.create_container(ctx, sid, container("y", devices=(missing,)))
    assert [c.id for c in container_query.list_containers(ctx)] == [cid]


async def test_target_pid_namespace(ctx: Context, backend: MemoryBackend) -> None:
    from domain.model import ContainerSecurity

    sid = await sandbox_run.run_pod_sandbox(ctx, pod())
    target = await run_app(ctx, sid, command=("server",))
    pid = container_query.container_status(ctx, target).pid
    options = NamespaceOptions(pid=NamespaceMode.TARGET, target_id=target)
    debug = await container_create.create_container(
        ctx, sid, container("debug", security=ContainerSecurity(namespace_options=options))
    )
    namespaces = backend.runtime.spec_of(debug)["linux"]["namespaces"]  # type: ignore[index]
    assert {"type": "pid", "path": f"/proc/{pid}/ns/pid"} in namespaces


async def test_pod_gets_a_shm_unless_it_shares_the_host_ipc(
    ctx: Context, backend: MemoryBackend
) -> None:
    own = await sandbox_run.run_pod_sandbox(ctx, pod("own", uid="1"))
    host = SandboxSecurity(namespace_options=NamespaceOptions(ipc=NamespaceMode.NODE))
    shared = await sandbox_run.run_pod_sandbox(ctx, pod("host", uid="2", security=host))
    assert backend.files.shm == {own: 64 << 20, shared: 0}


async def test_failed_network_waits_for_the_pause_create_then_rolls_it_back(
    ctx: Context, backend: MemoryBackend
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
        await sandbox_run.run_pod_sandbox(ctx, pod())
    assert finished  # the create was waited for, so the rollback could delete it
    assert not await backend.runtime.list() and not backend.files.files


async def test_hosts_file_names_the_pod_ip(ctx: Context, backend: MemoryBackend) -> None:
    sid = await sandbox_run.run_pod_sandbox(ctx, pod(hostname="web-0"))
    ip = sandbox_query.pod_sandbox_status(ctx, sid).ips[0]
    assert f"{ip}\tweb-0" in backend.files.files[sid]["hosts"]


async def test_repeated_stops_tear_the_network_down_once(
    ctx: Context, backend: MemoryBackend
) -> None:
    teardown = backend.network.teardown
    calls = []

    async def counted(request):  # type: ignore[no-untyped-def]
        calls.append(request.sandbox_id)
        await teardown(request)

    backend.network.teardown = counted  # type: ignore[method-assign]
    sid = await sandbox_run.run_pod_sandbox(ctx, pod())
    for _ in range(3):
        await sandbox_stop.stop_pod_sandbox(ctx, sid)
    await sandbox_remove.remove_pod_sandbox(ctx, sid)
    assert calls == [sid]


async def test_seccomp_profiles_from_the_node(ctx: Context, backend: MemoryBackend) -> None:
    from domain.model import ContainerSecurity, SandboxSecurity, SecurityProfile

    path = "/var/lib/kubelet/seccomp/audit.json"
    mine = {"defaultAction": "SCMP_ACT_LOG"}
    local = SecurityProfile(kind="Localhost", localhost_ref=path)
    with pytest.raises(NotFound, match="audit"):
        await sandbox_run.run_pod_sandbox(ctx, pod(security=SandboxSecurity(seccomp=local)))
    assert sandbox_query.list_pod_sandboxes(ctx) == [] and not backend.network.allocations
    backend.profiles.seccomp_profiles[path] = mine
    sid = await sandbox_run.run_pod_sandbox(ctx, pod(security=SandboxSecurity(seccomp=local)))
    assert backend.runtime.spec_of(sid)["linux"]["seccomp"] == mine  # type: ignore[index]
    await image_pull.pull_image(ctx, "busybox")
    default = ContainerSecurity(seccomp=SecurityProfile(kind="RuntimeDefault"))
    cid = await container_create.create_container(ctx, sid, container(security=default))
    seccomp = backend.runtime.spec_of(cid)["linux"]["seccomp"]  # type: ignore[index]
    assert seccomp["defaultAction"] == "SCMP_ACT_ERRNO"  # type: ignore[index]
    missing = SecurityProfile(kind="Localhost", localhost_ref="/nope.json")
    with pytest.raises(NotFound):
        await container_create.create_container(
            ctx, sid, container("y", security=ContainerSecurity(seccomp=missing))
        )
    assert [c.id for c in container_query.list_containers(ctx)] == [cid]
