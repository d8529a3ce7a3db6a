"""Exec, Attach and PortForward on the real stack, as kubectl drives them: the CRI call gives
a URL of hexcri's streaming server, our SPDY client (tests/support/spdy_client.py) upgrades and
streams. The same client against containerd's own CRI streaming server proves it speaks the
real protocol, and that hexcri answers as containerd does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from tests.e2e.conftest import Cri
from tests.support import spdy_client as spdy
from tests.support.stack import BUSYBOX, Stack, containerd_cri_beside, running_stack

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]

OUT_ERR_EXIT = ["sh", "-c", "echo out; echo err >&2; exit 3"]
HTTPD = "mkdir -p /www && echo hello-pf > /www/index.html && exec httpd -f -p 8080 -h /www"


@pytest.fixture(scope="module")
def node() -> Iterator[Stack]:
    """One stack for the module (each test makes its own pods)."""
    with running_stack() as s:
        try:
            yield s
        finally:
            print(f"--- hexcri log ---\n{s.hexcri_log.read_text()[-6000:]}")


async def connect(socket: str) -> AsyncIterator[Cri]:
    async with grpc.aio.insecure_channel(f"unix://{socket}") as channel:
        c = Cri(cri_grpc.RuntimeServiceStub(channel), cri_grpc.ImageServiceStub(channel))
        await c.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=BUSYBOX)))
        yield c


@pytest.fixture
async def hexcri(node: Stack) -> AsyncIterator[Cri]:
    async for c in connect(node.socket):
        yield c


def pod_config(name: str, logs: Path) -> cri.PodSandboxConfig:
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=name, uid=f"uid-{name}", namespace="e2e"),
        hostname=name,
        log_directory=str(logs),
        linux=cri.LinuxPodSandboxConfig(cgroup_parent=f"/hexcri-e2e-{name}"),
    )


async def run_container(
    c: Cri, name: str, logs: Path, command: list[str], **stdio: bool
) -> tuple[str, str]:
    """A pod with one running busybox container; (sandbox ID, container ID)."""
    pod = pod_config(name, logs)
    sid = (await c.runtime.RunPodSandbox(cri.RunPodSandboxRequest(config=pod))).pod_sandbox_id
    config = cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=name),
        image=cri.ImageSpec(image="busybox"),
        command=command,
        log_path=f"{name}.log",
        **stdio,
    )
    request = cri.CreateContainerRequest(pod_sandbox_id=sid, config=config, sandbox_config=pod)
    cid = (await c.runtime.CreateContainer(request)).container_id
    await c.runtime.StartContainer(cri.StartContainerRequest(container_id=cid))
    return sid, cid


async def remove_pod(c: Cri, sid: str) -> None:
    await c.runtime.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sid))
    await c.runtime.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))


async def exec_url(c: Cri, cid: str, cmd: list[str], **stdio: bool) -> str:
    request = cri.ExecRequest(container_id=cid, cmd=cmd, **stdio)
    return str((await c.runtime.Exec(request)).url)


async def test_exec_output_stderr_and_exit_code(hexcri: Cri, tmp_path: Path) -> None:
    sid, cid = await run_container(hexcri, "exec-out", tmp_path, ["sleep", "1000"])
    try:
        url = await exec_url(hexcri, cid, OUT_ERR_EXIT, stdout=True, stderr=True)
        out = await spdy.run(url)
        assert (out.protocol, out.stdout, out.stderr) == ("v4.channel.k8s.io", b"out\n", b"err\n")
        status = out.status()
        assert (status["status"], status["reason"]) == ("Failure", "NonZeroExitCode")
        assert status["details"] == {"causes": [{"reason": "ExitCode", "message": "3"}]}
        ok = await spdy.run(await exec_url(hexcri, cid, ["true"], stdout=True), stderr=False)
        assert ok.status() == {"metadata": {}, "status": "Success"}, ok.error
    finally:
        await remove_pod(hexcri, sid)


async def test_exec_with_stdin_until_eof(hexcri: Cri, tmp_path: Path) -> None:
    sid, cid = await run_container(hexcri, "exec-in", tmp_path, ["sleep", "1000"])
    try:
        url = await exec_url(hexcri, cid, ["cat"], stdin=True, stdout=True, stderr=True)
        out = await spdy.run(url, stdin=b"line one\nline two\n")
        assert out.stdout == b"line one\nline two\n"
        assert out.status()["status"] == "Success"
    finally:
        await remove_pod(hexcri, sid)


async def stty_size(rc: spdy.RemoteCommand, want: bytes) -> bytes:
    """Ask the shell for its terminal size until it reports `want` (the resize and the
    command travel on different streams)."""
    seen = b""
    for _ in range(50):
        await rc["stdin"].write(b"stty size\n")
        try:
            seen += await spdy.read_until(rc["stdout"], want, timeout=1)
        except TimeoutError:
            continue
        if want in seen:
            break
    return seen


async def test_exec_with_a_terminal_and_resize(hexcri: Cri, tmp_path: Path) -> None:
    sid, cid = await run_container(hexcri, "exec-tty", tmp_path, ["sleep", "1000"])
    try:
        url = await exec_url(hexcri, cid, ["sh"], tty=True, stdin=True, stdout=True)
        async with spdy.remote_command(url, stdin=True, tty=True) as rc:
            assert set(rc.streams) == {"error", "stdin", "stdout", "resize"}
            await rc.resize(101, 33)
            assert b"33 101" in await stty_size(rc, b"33 101")
            await rc["stdin"].write(b"exit 5\n")
            status = json.loads(await rc.status())
            assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "5"}]
    finally:
        await remove_pod(hexcri, sid)


async def test_attach_to_a_container_with_stdin_and_tty(hexcri: Cri, tmp_path: Path) -> None:
    sid, cid = await run_container(hexcri, "attach", tmp_path, ["sh"], stdin=True, tty=True)
    try:
        request = cri.AttachRequest(container_id=cid, stdin=True, stdout=True, tty=True)
        url = str((await hexcri.runtime.Attach(request)).url)
        async with spdy.remote_command(url, stdin=True, tty=True) as rc:
            await rc["stdin"].write(b"echo attached-$((6*7))\n")
            assert b"attached-42" in await spdy.read_until(rc["stdout"], b"attached-42")
            await rc["stdin"].write(b"exit 0\n")  # the container's shell ends: attach ends
            assert json.loads(await rc.status())["status"] == "Success"
    finally:
        await remove_pod(hexcri, sid)


async def test_port_forward_to_a_server_in_the_pod(hexcri: Cri, tmp_path: Path) -> None:
    sid, _ = await run_container(hexcri, "pf", tmp_path, ["sh", "-c", HTTPD])
    try:
        url_of = cri.PortForwardRequest(pod_sandbox_id=sid, port=[8080])
        data = error = b""
        for _ in range(50):  # until httpd listens
            url = str((await hexcri.runtime.PortForward(url_of)).url)
            data, error = await spdy.forward(url, 8080, b"GET /index.html HTTP/1.0\r\n\r\n")
            if data:
                break
            await asyncio.sleep(0.2)
        assert data.startswith(b"HTTP/1.") and b"hello-pf" in data, error
        url = str((await hexcri.runtime.PortForward(url_of)).url)
        data, error = await spdy.forward(url, 8081, b"x")  # nothing listens there
        assert data == b"" and b"8081" in error
    finally:
        await remove_pod(hexcri, sid)


async def test_same_exec_answers_as_containerds_own_streaming_server(
    node: Stack, hexcri: Cri, tmp_path: Path
) -> None:
    beside = containerd_cri_beside(node)  # it runs an event loop of its own: in a thread
    ref = await asyncio.to_thread(beside.__enter__)
    try:
        async for theirs in connect(ref.socket):
            results = {}
            for name, c in (("hexcri", hexcri), ("containerd", theirs)):
                sid, cid = await run_container(c, f"cmp-{name}", tmp_path, ["sleep", "1000"])
                try:
                    url = await exec_url(c, cid, OUT_ERR_EXIT, stdout=True, stderr=True)
                    failed = await spdy.run(url)
                    url = await exec_url(c, cid, ["cat"], stdin=True, stdout=True)
                    echoed = await spdy.run(url, stdin=b"same\n", stderr=False)
                    results[name] = (failed, echoed)
                    print(name, failed, echoed)
                finally:
                    await remove_pod(c, sid)
    finally:
        await asyncio.to_thread(beside.__exit__, None, None, None)
    ours, theirs_ = results["hexcri"], results["containerd"]
    assert theirs_[0].protocol == ours[0].protocol == "v4.channel.k8s.io"
    assert (theirs_[0].stdout, theirs_[0].stderr) == (ours[0].stdout, ours[0].stderr)
    assert theirs_[0].error == ours[0].error  # byte for byte, the message included
    assert (theirs_[1].stdout, theirs_[1].status()) == (ours[1].stdout, ours[1].status())
