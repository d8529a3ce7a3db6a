"""Containers on the real stack as kubelet sees them, through hexcri's CRI socket only:
exits and their reasons, CRI logs, failed starts, exec, resources, namespaces, users,
mounts, stop grace, clean removal, and a `kill -9` of hexcri with containers alive."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from tests.e2e.conftest import Cri
from tests.support.polling import settles
from tests.support.stack import BUSYBOX, Stack

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]

RFC3339NANO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z")
CGROUP = Path("/sys/fs/cgroup")
# A container that prints, on demand, what an exec'd command drops into /tmp/say.
ECHO_ON_DEMAND = (
    "echo started; while true; do "
    "if [ -e /tmp/say ]; then cat /tmp/say; rm /tmp/say; fi; sleep 0.1; done"
)


def connect(stack: Stack) -> tuple[grpc.aio.Channel, Cri]:
    channel = grpc.aio.insecure_channel(f"unix://{stack.socket}")
    return channel, Cri(cri_grpc.RuntimeServiceStub(channel), cri_grpc.ImageServiceStub(channel))


@pytest.fixture
async def real(stack: Stack) -> AsyncIterator[Cri]:
    channel, c = connect(stack)
    async with channel:
        await c.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=BUSYBOX)))
        yield c


def pod_config(
    name: str, logs: Path, pid: cri.NamespaceMode.ValueType = cri.CONTAINER
) -> cri.PodSandboxConfig:
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=name, uid=f"uid-{name}", namespace="e2e"),
        hostname=name,
        log_directory=str(logs),
        linux=cri.LinuxPodSandboxConfig(
            cgroup_parent=f"/hexcri-e2e-{name}",
            security_context=cri.LinuxSandboxSecurityContext(
                namespace_options=cri.NamespaceOption(network=cri.POD, pid=pid)
            ),
        ),
    )


def container_config(name: str, command: list[str], **linux: object) -> cri.ContainerConfig:
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=name),
        image=cri.ImageSpec(image="busybox"),
        command=command,
        log_path=f"{name}.log",
        linux=cri.LinuxContainerConfig(**linux),  # type: ignore[arg-type]
    )


async def run_pod(c: Cri, config: cri.PodSandboxConfig) -> str:
    return str(
        (await c.runtime.RunPodSandbox(cri.RunPodSandboxRequest(config=config))).pod_sandbox_id
    )


async def create(c: Cri, sid: str, pod: cri.PodSandboxConfig, config: cri.ContainerConfig) -> str:
    request = cri.CreateContainerRequest(pod_sandbox_id=sid, config=config, sandbox_config=pod)
    return str((await c.runtime.CreateContainer(request)).container_id)


async def start(c: Cri, sid: str, pod: cri.PodSandboxConfig, config: cri.ContainerConfig) -> str:
    cid = await create(c, sid, pod, config)
    await c.runtime.StartContainer(cri.StartContainerRequest(container_id=cid))
    return cid


async def status(c: Cri, cid: str) -> cri.ContainerStatus:
    return (await c.runtime.ContainerStatus(cri.ContainerStatusRequest(container_id=cid))).status


async def wait_state(c: Cri, cid: str, state: int, seconds: float = 30) -> cri.ContainerStatus:
    for _ in range(int(seconds / 0.1)):
        st = await status(c, cid)
        if st.state == state:
            return st
        await asyncio.sleep(0.1)
    raise AssertionError(f"container {cid} never reached state {state}: {st}")


async def wait_log(path: Path, text: str, seconds: float = 30) -> list[str]:
    """The log's contents (content of each record) once one holds `text`."""
    for _ in range(int(seconds / 0.1)):
        contents = [line.split(" ", 3)[3] for line in read_lines(path)]
        if text in contents:
            return contents
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} never reached {path}: {read_lines(path)}")


def read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def exec_sync(c: Cri, cid: str, cmd: list[str], timeout: int = 10) -> cri.ExecSyncResponse:
    return await c.runtime.ExecSync(cri.ExecSyncRequest(container_id=cid, cmd=cmd, timeout=timeout))


async def say(c: Cri, cid: str, text: str) -> None:
    """Make an ECHO_ON_DEMAND container print `text` to its stdout."""
    done = await exec_sync(
        c, cid, ["sh", "-c", f"echo {text} > /tmp/say.new && mv /tmp/say.new /tmp/say"]
    )
    assert done.exit_code == 0, done


def committed_image_snapshots_only(stack: Stack) -> None:
    listing = stack.containerd.ctr("snapshots", "--snapshotter", "overlayfs", "ls")
    rows = [line.split() for line in listing.splitlines()[1:] if line.strip()]
    assert rows, "the images' layers are committed snapshots"
    assert {row[-1] for row in rows} == {"Committed"}, listing


def fifos_under(path: Path) -> list[str]:
    found = []
    for directory, _, files in os.walk(path):
        for name in files:
            full = os.path.join(directory, name)
            if stat.S_ISFIFO(os.lstat(full).st_mode):
                found.append(full)
    return found


async def remove_pod_and_check(c: Cri, stack: Stack, sid: str) -> None:
    """RemovePodSandbox leaves no container, task, writable snapshot, FIFO or pod dir."""
    await c.runtime.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sid))
    await c.runtime.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))
    assert not (await c.runtime.ListPodSandbox(cri.ListPodSandboxRequest())).items
    assert not (await c.runtime.ListContainers(cri.ListContainersRequest())).containers
    assert not stack.containerd.ctr("containers", "ls", "-q").split()
    assert not stack.containerd.ctr("tasks", "ls", "-q").split()
    committed_image_snapshots_only(stack)
    assert not fifos_under(stack.root / "hexcri" / "state")
    assert not os.listdir(stack.hexcri_root / "sandboxes")
    assert not stack.cni.allocations() and not stack.cni.pinned() and not stack.cni.cached()


# --- exits, logs, process settings --------------------------------------------------------


async def test_containers_run_to_completion(real: Cri, stack: Stack, tmp_path: Path) -> None:
    pod = pod_config("done", tmp_path)
    sid = await run_pod(real, pod)
    ok_config = container_config("ok", ["sh", "-c", "echo one; echo two >&2; echo three"])
    ok = await start(real, sid, pod, ok_config)
    failed = await start(real, sid, pod, container_config("failed", ["sh", "-c", "exit 2"]))

    done = await wait_state(real, ok, cri.CONTAINER_EXITED)
    assert (done.exit_code, done.reason) == (0, "Completed")
    # not started_at <= finished_at: when the exit event overtakes the start reply, the
    # domain stamps started_at after the exit (reported to the lead)
    assert 0 < done.created_at <= done.started_at and done.finished_at > done.created_at
    assert done.log_path == str(tmp_path / "ok.log")
    records = [line.split(" ", 3) for line in read_lines(tmp_path / "ok.log")]
    assert all(RFC3339NANO.fullmatch(r[0]) for r in records), records
    assert all(r[2] == "F" for r in records)
    assert [(r[1], r[3]) for r in records if r[1] == "stdout"] == [
        ("stdout", "one"),
        ("stdout", "three"),
    ]
    assert [(r[1], r[3]) for r in records if r[1] == "stderr"] == [("stderr", "two")]

    bad = await wait_state(real, failed, cri.CONTAINER_EXITED)
    assert (bad.exit_code, bad.reason) == (2, "Error")
    assert bad.started_at > 0 and bad.finished_at > 0
    await remove_pod_and_check(real, stack, sid)


async def test_env_workdir_hostname_and_hosts(real: Cri, stack: Stack, tmp_path: Path) -> None:
    pod = pod_config("named", tmp_path)
    sid = await run_pod(real, pod)
    ip = (
        await real.runtime.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=sid))
    ).status.network.ip
    config = container_config(
        "env", ["sh", "-c", 'echo "greeting=$GREETING"; pwd; hostname; cat /etc/hosts']
    )
    config.envs.extend([cri.KeyValue(key="GREETING", value="hello world")])
    config.working_dir = "/var/work"  # missing in the image: made, as runc does
    cid = await start(real, sid, pod, config)
    done = await wait_state(real, cid, cri.CONTAINER_EXITED)
    assert done.exit_code == 0
    lines = [line.split(" ", 3)[3] for line in read_lines(tmp_path / "env.log")]
    assert lines[:3] == ["greeting=hello world", "/var/work", "named"]
    hosts = [line.split() for line in lines[3:]]
    assert ["127.0.0.1", "localhost"] in hosts
    assert [ip, "named"] in hosts, hosts  # the pod's own name, on its IP
    await remove_pod_and_check(real, stack, sid)


async def test_command_not_found(real: Cri, stack: Stack, tmp_path: Path) -> None:
    pod = pod_config("missing", tmp_path)
    sid = await run_pod(real, pod)
    cid = await create(real, sid, pod, container_config("nope", ["/no/such/binary"]))
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await real.runtime.StartContainer(cri.StartContainerRequest(container_id=cid))
    assert "/no/such/binary" in str(failed.value.details())
    assert "no such file or directory" in str(failed.value.details())
    st = await status(real, cid)
    assert st.state == cri.CONTAINER_EXITED
    assert st.reason and "/no/such/binary" in st.message
    assert st.exit_code != 0 and st.finished_at > 0
    await real.runtime.RemoveContainer(cri.RemoveContainerRequest(container_id=cid))
    assert not (await real.runtime.ListContainers(cri.ListContainersRequest())).containers

    def cleaned_up() -> None:  # after the answer
        assert stack.containerd.ctr("containers", "ls", "-q").split() == [sid]
        assert not (stack.root / "hexcri" / "state" / "io" / "io" / cid).exists()

    settles(cleaned_up)
    await remove_pod_and_check(real, stack, sid)


# --- exec, resources, log reopening -------------------------------------------------------


async def test_exec_sync_and_its_timeout(real: Cri, stack: Stack, tmp_path: Path) -> None:
    pod = pod_config("exec", tmp_path)
    sid = await run_pod(real, pod)
    cid = await start(real, sid, pod, container_config("sleeper", ["sleep", "3600"]))
    await wait_state(real, cid, cri.CONTAINER_RUNNING)
    result = await exec_sync(real, cid, ["sh", "-c", "echo out; echo err >&2; exit 4"])
    assert (result.stdout, result.stderr, result.exit_code) == (b"out\n", b"err\n", 4)

    with pytest.raises(grpc.aio.AioRpcError) as late:
        await exec_sync(real, cid, ["sleep", "4242"], timeout=1)
    assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    ps = await exec_sync(real, cid, ["ps", "-o", "args"])
    assert ps.exit_code == 0
    assert b"sleep 3600" in ps.stdout
    assert b"4242" not in ps.stdout  # the timed-out process was killed
    assert not fifos_under(stack.root / "hexcri" / "state" / "exec")
    await remove_pod_and_check(real, stack, sid)


async def test_update_resources_reach_the_cgroup(real: Cri, stack: Stack, tmp_path: Path) -> None:
    pod = pod_config("limits", tmp_path)
    sid = await run_pod(real, pod)
    cid = await start(real, sid, pod, container_config("busy", ["sleep", "3600"]))
    await wait_state(real, cid, cri.CONTAINER_RUNNING)
    limit = 96 * 1024 * 1024
    await real.runtime.UpdateContainerResources(
        cri.UpdateContainerResourcesRequest(
            container_id=cid,
            linux=cri.LinuxContainerResources(memory_limit_in_bytes=limit, cpu_shares=384),
        )
    )
    relative = f"hexcri-e2e-limits/{cid}"  # <cgroup parent>/<container id> with cgroupfs
    assert int((CGROUP / "memory" / relative / "memory.limit_in_bytes").read_text()) == limit
    assert int((CGROUP / "cpu" / relative / "cpu.shares").read_text()) == 384
    st = await status(real, cid)
    assert st.resources.linux.memory_limit_in_bytes == limit
    assert st.resources.linux.cpu_shares == 384

    # updated while CREATED: the task starts with the new limits (containerd's CRI updates the
    # container's spec)
    later = await create(real, sid, pod, container_config("later", ["sleep", "3600"]))
    await real.runtime.UpdateContainerResources(
        cri.UpdateContainerResourcesRequest(
            container_id=later,
            linux=cri.LinuxContainerResources(memory_limit_in_bytes=limit // 2, cpu_shares=256),
        )
    )
    await real.runtime.StartContainer(cri.StartContainerRequest(container_id=later))
    relative_later = f"hexcri-e2e-limits/{later}"
    memory_later = CGROUP / "memory" / relative_later / "memory.limit_in_bytes"
    assert int(memory_later.read_text()) == limit // 2
    assert int((CGROUP / "cpu" / relative_later / "cpu.shares").read_text()) == 256
    assert (await status(real, later)).resources.linux.cpu_shares == 256
    await remove_pod_and_check(real, stack, sid)
    assert not (CGROUP / "memory" / relative).exists()


async def test_reopen_container_log(real: Cri, stack: Stack, tmp_path: Path) -> None:
    pod = pod_config("rotate", tmp_path)
    sid = await run_pod(real, pod)
    cid = await start(real, sid, pod, container_config("talker", ["sh", "-c", ECHO_ON_DEMAND]))
    log = tmp_path / "talker.log"
    await wait_log(log, "started")
    await say(real, cid, "before-rotation")
    await wait_log(log, "before-rotation")
    rotated = tmp_path / "talker.log.1"
    log.rename(rotated)
    await real.runtime.ReopenContainerLog(cri.ReopenContainerLogRequest(container_id=cid))
    assert log.exists()  # reopened at once, as kubelet checks
    await say(real, cid, "after-rotation")
    assert await wait_log(log, "after-rotation") == ["after-rotation"]
    assert "after-rotation" not in rotated.read_text()
    await remove_pod_and_check(real, stack, sid)


# --- namespaces, users, mounts -------------------------------------------------------------


async def test_pid_namespace_shared_with_the_pod_or_own(
    real: Cri, stack: Stack, tmp_path: Path
) -> None:
    shared_pod = pod_config("shared", tmp_path, pid=cri.POD)
    shared_sid = await run_pod(real, shared_pod)
    shared = container_config(
        "shared",
        ["sleep", "3600"],
        security_context=cri.LinuxContainerSecurityContext(
            namespace_options=cri.NamespaceOption(network=cri.POD, pid=cri.POD)
        ),
    )
    cid = await start(real, shared_sid, shared_pod, shared)
    await wait_state(real, cid, cri.CONTAINER_RUNNING)
    first = await exec_sync(real, cid, ["cat", "/proc/1/cmdline"])
    assert first.stdout.split(b"\0")[0] == b"/pause"
    assert b"sleep 3600" in (await exec_sync(real, cid, ["ps", "-o", "args"])).stdout

    own_pod = pod_config("own", tmp_path)
    own_sid = await run_pod(real, own_pod)
    own_config = container_config(
        "own",
        ["sleep", "3600"],
        security_context=cri.LinuxContainerSecurityContext(
            namespace_options=cri.NamespaceOption(network=cri.POD, pid=cri.CONTAINER)
        ),
    )
    own = await start(real, own_sid, own_pod, own_config)
    await wait_state(real, own, cri.CONTAINER_RUNNING)
    mine = await exec_sync(real, own, ["cat", "/proc/1/cmdline"])
    assert mine.stdout == b"sleep\x003600\x00"
    assert b"pause" not in (await exec_sync(real, own, ["ps", "-o", "args"])).stdout
    await remove_pod_and_check_both(real, stack, shared_sid, own_sid)


async def remove_pod_and_check_both(c: Cri, stack: Stack, first: str, second: str) -> None:
    await c.runtime.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=first))
    await c.runtime.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=first))
    await remove_pod_and_check(c, stack, second)


async def test_run_as_user_and_username(real: Cri, stack: Stack, tmp_path: Path) -> None:
    pod = pod_config("users", tmp_path)
    sid = await run_pod(real, pod)
    ids = ["sh", "-c", "id -u; id -g"]
    numeric = container_config(
        "numeric",
        ids,
        security_context=cri.LinuxContainerSecurityContext(
            run_as_user=cri.Int64Value(value=1234), run_as_group=cri.Int64Value(value=4321)
        ),
    )
    named = container_config(
        "named", ids, security_context=cri.LinuxContainerSecurityContext(run_as_username="nobody")
    )
    started = {
        config.metadata.name: await start(real, sid, pod, config) for config in (numeric, named)
    }
    for name, expected in (("numeric", ["1234", "4321"]), ("named", ["65534", "65534"])):
        await wait_state(real, started[name], cri.CONTAINER_EXITED)
        lines = [line.split(" ", 3)[3] for line in read_lines(tmp_path / f"{name}.log")]
        assert lines == expected, name

    unknown = container_config(
        "unknown", ids, security_context=cri.LinuxContainerSecurityContext(run_as_username="nosuch")
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await create(real, sid, pod, unknown)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "nosuch" in str(refused.value.details())
    listed = (await real.runtime.ListContainers(cri.ListContainersRequest())).containers
    assert sorted(c.metadata.name for c in listed) == ["named", "numeric"]
    assert len(stack.containerd.ctr("containers", "ls", "-q").split()) == 3  # pause + two
    # the name is free again: a fixed config is accepted
    unknown.linux.security_context.run_as_username = "root"
    await create(real, sid, pod, unknown)
    await remove_pod_and_check(real, stack, sid)


async def test_mounts(real: Cri, stack: Stack, tmp_path: Path) -> None:
    pod = pod_config("mounts", tmp_path)
    sid = await run_pod(real, pod)
    missing = tmp_path / "made" / "by-hexcri"
    readonly = tmp_path / "ro"
    readonly.mkdir()
    (readonly / "seen").write_text("from the host\n")
    config = container_config(
        "mounter",
        [
            "sh",
            "-c",
            "echo hi > /data/new && cat /ro/seen && "
            "if echo no > /ro/written; then echo WROTE; else echo refused; fi",
        ],
    )
    config.mounts.extend(
        [
            cri.Mount(container_path="/data", host_path=str(missing)),
            cri.Mount(container_path="/ro", host_path=str(readonly), readonly=True),
        ]
    )
    cid = await start(real, sid, pod, config)
    done = await wait_state(real, cid, cri.CONTAINER_EXITED)
    lines = [line.split(" ", 3)[3] for line in read_lines(tmp_path / "mounter.log")]
    assert done.exit_code == 0, lines
    assert missing.is_dir()
    assert (missing / "new").read_text() == "hi\n"
    assert "from the host" in lines and "refused" in lines and "WROTE" not in lines
    assert not (readonly / "written").exists()
    assert {(m.container_path, m.readonly) for m in done.mounts} >= {
        ("/data", False),
        ("/ro", True),
    }
    await remove_pod_and_check(real, stack, sid)


# --- stop, kill -9 ---------------------------------------------------------------------------


async def test_stop_honours_grace_then_kills(real: Cri, stack: Stack, tmp_path: Path) -> None:
    pod = pod_config("stop", tmp_path)
    sid = await run_pod(real, pod)
    polite = container_config(
        "polite",
        ["sh", "-c", "trap 'echo bye; exit 0' TERM; echo up; while true; do sleep 0.1; done"],
    )
    stubborn = container_config(
        "stubborn",
        ["sh", "-c", "trap 'echo ignoring TERM' TERM; echo up; while true; do sleep 0.1; done"],
    )
    polite_id = await start(real, sid, pod, polite)
    stubborn_id = await start(real, sid, pod, stubborn)
    await wait_log(tmp_path / "polite.log", "up")
    await wait_log(tmp_path / "stubborn.log", "up")
    await asyncio.gather(
        real.runtime.StopContainer(cri.StopContainerRequest(container_id=polite_id, timeout=30)),
        real.runtime.StopContainer(cri.StopContainerRequest(container_id=stubborn_id, timeout=2)),
    )
    gone = await status(real, polite_id)
    assert (gone.state, gone.exit_code, gone.reason) == (cri.CONTAINER_EXITED, 0, "Completed")
    assert "bye" in [line.split(" ", 3)[3] for line in read_lines(tmp_path / "polite.log")]
    killed = await status(real, stubborn_id)
    assert (killed.state, killed.exit_code, killed.reason) == (cri.CONTAINER_EXITED, 137, "Error")
    # TERM came first and was ignored, then the grace period ran out: SIGKILL
    await wait_log(tmp_path / "stubborn.log", "ignoring TERM")
    await remove_pod_and_check(real, stack, sid)


async def test_kill_9_and_restart_keep_containers_and_logs(stack: Stack, tmp_path: Path) -> None:
    channel, c = connect(stack)
    pod = pod_config("crash", tmp_path)
    async with channel:
        await c.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=BUSYBOX)))
        sid = await run_pod(c, pod)
        running = await start(
            c, sid, pod, container_config("running", ["sh", "-c", ECHO_ON_DEMAND])
        )
        exited = await start(
            c, sid, pod, container_config("exited", ["sh", "-c", "echo bye; exit 5"])
        )
        await wait_state(c, exited, cri.CONTAINER_EXITED)
        await wait_log(tmp_path / "running.log", "started")
        before = {cid: await status(c, cid) for cid in (running, exited)}

    stack.stop_hexcri(signal.SIGKILL)
    stack.start_hexcri()
    channel, c = connect(stack)
    async with channel:
        listed = {
            x.id: x.state
            for x in (await c.runtime.ListContainers(cri.ListContainersRequest())).containers
        }
        assert listed == {running: cri.CONTAINER_RUNNING, exited: cri.CONTAINER_EXITED}
        for cid, old in before.items():
            new = await status(c, cid)
            assert (new.state, new.exit_code, new.reason, new.started_at, new.finished_at) == (
                old.state,
                old.exit_code,
                old.reason,
                old.started_at,
                old.finished_at,
            )
        assert (await status(c, exited)).exit_code == 5
        assert [line.split(" ", 3)[3] for line in read_lines(tmp_path / "exited.log")] == ["bye"]
        # the log pump is re-attached: a line printed after the restart lands in the log
        await say(c, running, "after-restart")
        assert await wait_log(tmp_path / "running.log", "after-restart") == [
            "started",
            "after-restart",
        ]
        sandbox = (
            await c.runtime.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=sid))
        ).status
        assert sandbox.state == cri.SANDBOX_READY
        await remove_pod_and_check(c, stack, sid)


async def test_container_created_before_kill_9_starts_after_it(
    stack: Stack, tmp_path: Path
) -> None:
    channel, c = connect(stack)
    pod = pod_config("later", tmp_path)
    async with channel:
        await c.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=BUSYBOX)))
        sid = await run_pod(c, pod)
        created = await create(c, sid, pod, container_config("created", ["echo", "late"]))

    stack.stop_hexcri(signal.SIGKILL)
    stack.start_hexcri()
    channel, c = connect(stack)
    async with channel:
        assert (await status(c, created)).state == cri.CONTAINER_CREATED
        await c.runtime.StartContainer(cri.StartContainerRequest(container_id=created))
        late = await wait_state(c, created, cri.CONTAINER_EXITED)
        assert (late.exit_code, late.reason) == (0, "Completed")
        assert await wait_log(tmp_path / "created.log", "late") == ["late"]
        await remove_pod_and_check(c, stack, sid)


async def test_seccomp_profiles(real: Cri, stack: Stack, tmp_path: Path) -> None:
    """RuntimeDefault filters syscalls (mount, namespace-making unshare: EPERM); Localhost
    applies the node's profile file; Unconfined runs without a filter."""
    no_mkdir = tmp_path / "no-mkdir.json"
    no_mkdir.write_text(
        '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": '
        '[{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}'
    )
    kinds = {
        "default": cri.SecurityProfile(profile_type=cri.SecurityProfile.RuntimeDefault),
        "local": cri.SecurityProfile(
            profile_type=cri.SecurityProfile.Localhost, localhost_ref=str(no_mkdir)
        ),
        "unconfined": cri.SecurityProfile(profile_type=cri.SecurityProfile.Unconfined),
    }
    pod = pod_config("seccomp", tmp_path)
    pod.linux.security_context.seccomp.CopyFrom(kinds["default"])  # the pause container's
    sid = await run_pod(real, pod)
    probe = (
        "grep '^Seccomp:' /proc/self/status; "
        "mkdir /tmp/d && echo mkdir-ok; "
        "unshare -U true 2>/dev/null && echo unshare-ok; echo end"
    )
    started = {
        name: await start(
            real,
            sid,
            pod,
            container_config(
                name,
                ["sh", "-c", probe],
                security_context=cri.LinuxContainerSecurityContext(seccomp=profile),
            ),
        )
        for name, profile in kinds.items()
    }
    for cid in started.values():
        await wait_state(real, cid, cri.CONTAINER_EXITED)
    outputs = {
        name: [line.split(" ", 3)[3] for line in read_lines(tmp_path / f"{name}.log")]
        for name in kinds
    }
    assert "Seccomp:\t2" in outputs["default"] and "unshare-ok" not in outputs["default"]
    assert "mkdir-ok" in outputs["default"]
    assert "Seccomp:\t2" in outputs["local"] and "mkdir-ok" not in outputs["local"]
    assert "Seccomp:\t0" in outputs["unconfined"] and "mkdir-ok" in outputs["unconfined"]

    missing = container_config(
        "missing",
        ["true"],
        security_context=cri.LinuxContainerSecurityContext(
            seccomp=cri.SecurityProfile(
                profile_type=cri.SecurityProfile.Localhost, localhost_ref=str(tmp_path / "no")
            )
        ),
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await create(real, sid, pod, missing)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    await remove_pod_and_check(real, stack, sid)
