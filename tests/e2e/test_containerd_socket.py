"""hexcri on the real stack (containerd, runc, CNI, a local registry behind hosts.toml mirrors),
driven only through its CRI socket, as kubelet drives it."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from tests.e2e.conftest import Cri
from tests.support.stack import BUSYBOX, Stack

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]


@pytest.fixture
async def real(stack: Stack) -> AsyncIterator[Cri]:
    async with grpc.aio.insecure_channel(f"unix://{stack.socket}") as channel:
        yield Cri(cri_grpc.RuntimeServiceStub(channel), cri_grpc.ImageServiceStub(channel))


def pod_config(name: str, logs: Path, host_network: bool = False) -> cri.PodSandboxConfig:
    mode = cri.NODE if host_network else cri.POD
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=name, uid=f"uid-{name}", namespace="e2e"),
        hostname="" if host_network else name,  # kubelet sends none with the host network
        log_directory=str(logs),
        dns_config=cri.DNSConfig(servers=["10.96.0.10"], searches=["e2e.svc.cluster.local"]),
        linux=cri.LinuxPodSandboxConfig(
            cgroup_parent=f"/hexcri-e2e-{name}",
            security_context=cri.LinuxSandboxSecurityContext(
                namespace_options=cri.NamespaceOption(network=mode, pid=cri.CONTAINER)
            ),
        ),
    )


def container_config(name: str, command: list[str]) -> cri.ContainerConfig:
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=name),
        image=cri.ImageSpec(image="busybox"),
        command=command,
        log_path=f"{name}.log",
    )


async def wait_state(c: Cri, cid: str, state: int, seconds: float = 30) -> cri.ContainerStatus:
    for _ in range(int(seconds / 0.1)):
        st = (await c.runtime.ContainerStatus(cri.ContainerStatusRequest(container_id=cid))).status
        if st.state == state:
            return st
        await asyncio.sleep(0.1)
    raise AssertionError(f"container {cid} never reached state {state}: {st}")


async def start(c: Cri, sid: str, config: cri.PodSandboxConfig, name: str, cmd: list[str]) -> str:
    request = cri.CreateContainerRequest(
        pod_sandbox_id=sid, config=container_config(name, cmd), sandbox_config=config
    )
    cid = str((await c.runtime.CreateContainer(request)).container_id)
    await c.runtime.StartContainer(cri.StartContainerRequest(container_id=cid))
    return cid


async def test_pod_lifecycle_on_containerd(real: Cri, stack: Stack, tmp_path: Path) -> None:
    rt, im = real.runtime, real.images
    conditions = (await rt.Status(cri.StatusRequest())).status.conditions
    assert all(c.status for c in conditions), conditions

    config = pod_config("web", tmp_path)
    sid = (await rt.RunPodSandbox(cri.RunPodSandboxRequest(config=config))).pod_sandbox_id
    status = (await rt.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=sid))).status
    assert status.state == cri.SANDBOX_READY
    assert status.network.ip.startswith("10.88.78.")

    pulled = await im.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=BUSYBOX)))
    assert pulled.image_ref.startswith("sha256:")
    job = await start(real, sid, config, "job", ["sh", "-c", "echo hello; cat /etc/resolv.conf"])
    done = await wait_state(real, job, cri.CONTAINER_EXITED)
    assert (done.exit_code, done.reason) == (0, "Completed")
    lines = (tmp_path / "job.log").read_text().splitlines()
    assert lines[0].split(" ", 3)[1:] == ["stdout", "F", "hello"]
    assert any("nameserver 10.96.0.10" in line for line in lines)

    server = await start(real, sid, config, "server", ["sh", "-c", "trap '' TERM; sleep 3600"])
    await wait_state(real, server, cri.CONTAINER_RUNNING)
    result = await rt.ExecSync(
        cri.ExecSyncRequest(container_id=server, cmd=["sh", "-c", "hostname; exit 3"], timeout=10)
    )
    assert (result.stdout, result.exit_code) == (b"web\n", 3)
    await rt.StopContainer(cri.StopContainerRequest(container_id=server, timeout=2))
    stopped = await wait_state(real, server, cri.CONTAINER_EXITED)
    assert stopped.exit_code == 137  # SIGTERM is ignored: SIGKILL after the 2 s grace
    await rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sid))
    await rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))
    assert not (await rt.ListPodSandbox(cri.ListPodSandboxRequest())).items
    assert not stack.containerd.ctr("containers", "ls", "-q").split()
    assert not stack.containerd.ctr("tasks", "ls", "-q").split()
    assert not stack.cni.allocations() and not stack.cni.pinned() and not stack.cni.cached()


async def test_kill_9_and_restart_keeps_everything(stack: Stack, tmp_path: Path) -> None:
    async def connect() -> tuple[grpc.aio.Channel, Cri]:
        channel = grpc.aio.insecure_channel(f"unix://{stack.socket}")
        return channel, Cri(
            cri_grpc.RuntimeServiceStub(channel), cri_grpc.ImageServiceStub(channel)
        )

    channel, c = await connect()
    config = pod_config("keep", tmp_path)
    sid = (await c.runtime.RunPodSandbox(cri.RunPodSandboxRequest(config=config))).pod_sandbox_id
    await c.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=BUSYBOX)))
    running = await start(c, sid, config, "running", ["sh", "-c", "echo before; sleep 3600"])
    exited = await start(c, sid, config, "exited", ["sh", "-c", "exit 5"])
    await wait_state(c, exited, cri.CONTAINER_EXITED)
    await channel.close()

    stack.stop_hexcri(signal.SIGKILL)
    stack.start_hexcri()
    channel, c = await connect()
    listed = {
        x.id: x.state
        for x in (await c.runtime.ListContainers(cri.ListContainersRequest())).containers
    }
    assert listed == {running: cri.CONTAINER_RUNNING, exited: cri.CONTAINER_EXITED}
    st = (await c.runtime.ContainerStatus(cri.ContainerStatusRequest(container_id=exited))).status
    assert st.exit_code == 5
    sandbox = (
        await c.runtime.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=sid))
    ).status
    assert sandbox.state == cri.SANDBOX_READY
    # the log pump is re-attached: output written after the restart lands in the log
    await c.runtime.ExecSync(cri.ExecSyncRequest(container_id=running, cmd=["true"], timeout=10))
    assert "before" in (tmp_path / "running.log").read_text()

    await c.runtime.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))
    await channel.close()
    assert not stack.containerd.ctr("containers", "ls", "-q").split()
    assert not stack.cni.allocations() and not stack.cni.pinned()
    assert not os.listdir(stack.hexcri_root / "sandboxes")


async def test_host_network_pod(real: Cri, tmp_path: Path) -> None:
    config = pod_config("host", tmp_path, host_network=True)
    sid = (await real.runtime.RunPodSandbox(cri.RunPodSandboxRequest(config=config))).pod_sandbox_id
    await real.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=BUSYBOX)))
    cid = await start(real, sid, config, "ip", ["cat", "/proc/net/dev"])
    await wait_state(real, cid, cri.CONTAINER_EXITED)
    host = Path("/proc/net/dev").read_text().splitlines()[2:]
    logged = (tmp_path / "ip.log").read_text().splitlines()[2:]
    interfaces = {line.split(":")[0].strip() for line in host}
    assert interfaces == {line.split(" ", 3)[3].split(":")[0].strip() for line in logged}
    await real.runtime.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))


async def test_hexcri_serves_its_record_while_containerd_is_down(
    stack: Stack, tmp_path: Path
) -> None:
    """A restart while containerd is down: the pods are listed from hexcri's record at once
    (an empty answer would tell kubelet every pod is gone), Status says the runtime is not
    ready; once containerd answers, Status is ready and the states are containerd's."""
    async with grpc.aio.insecure_channel(f"unix://{stack.socket}") as channel:
        c = Cri(cri_grpc.RuntimeServiceStub(channel), cri_grpc.ImageServiceStub(channel))
        await c.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=BUSYBOX)))
        sid = (
            await c.runtime.RunPodSandbox(
                cri.RunPodSandboxRequest(config=pod_config("down", tmp_path))
            )
        ).pod_sandbox_id
    stack.stop_hexcri(signal.SIGKILL)
    stack.containerd.stop()
    try:
        stack.start_hexcri()
        async with grpc.aio.insecure_channel(f"unix://{stack.socket}") as channel:
            rt = cri_grpc.RuntimeServiceStub(channel)
            pods = (await rt.ListPodSandbox(cri.ListPodSandboxRequest())).items
            assert [(p.id, p.state) for p in pods] == [(sid, cri.SANDBOX_READY)]
            conditions = (await rt.Status(cri.StatusRequest(), timeout=5)).status.conditions
            runtime = {x.type: x for x in conditions}["RuntimeReady"]
            assert (runtime.status, runtime.reason) == (False, "RuntimeNotReady")
    finally:
        stack.containerd.start()
    async with grpc.aio.insecure_channel(f"unix://{stack.socket}") as channel:
        rt = cri_grpc.RuntimeServiceStub(channel)
        for _ in range(300):
            conditions = (await rt.Status(cri.StatusRequest())).status.conditions
            if {x.type: x.status for x in conditions}["RuntimeReady"]:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the runtime never became ready")
        pods = (await rt.ListPodSandbox(cri.ListPodSandboxRequest())).items
        assert [(p.id, p.state) for p in pods] == [(sid, cri.SANDBOX_READY)]
        await rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sid))
        await rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))
        assert not stack.containerd.ctr("containers", "ls", "-q").split()
