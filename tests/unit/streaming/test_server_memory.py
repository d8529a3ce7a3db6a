"""The streaming server on the memory backend, through a real socket with the SPDY client:
exec, attach and port-forward as kubectl drives them, and the refusals."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from adapters.cri.server import start_server, stop_server
from adapters.memory.backend import MemoryBackend
from adapters.streaming.dial import NodeDialer
from adapters.streaming.server import StreamingServer
from domain.errors import FailedPrecondition, InvalidArgument
from domain.model import ContainerState
from tests.support import spdy_client as spdy
from tests.support.harness import Harness
from tests.unit.conftest import container, pod, settle


@pytest.fixture
async def server(ctx: Harness) -> AsyncIterator[StreamingServer]:
    s = StreamingServer(ctx.container_stream, "127.0.0.1:0", NodeDialer())
    await s.start()
    yield s
    await s.stop()


async def running(ctx: Harness, **kw: object) -> str:
    n = len(ctx.sandboxes.all())
    sid = await ctx.sandbox_run.run_pod_sandbox(pod(name=f"web-{n}", uid=f"uid-{n}"))
    await ctx.image_pull.pull_image("busybox")
    cid = await ctx.container_create.create_container(sid, container(**kw))
    await ctx.container_start.start_container(cid)
    return cid


def exec_url(server: StreamingServer, ctx: Harness, cid: str, cmd: list[str], **kw: bool) -> str:
    return server.url_for(ctx.container_stream.prepare_exec(cid, cmd, **kw))


async def test_the_url_carries_the_bound_port(ctx: Harness, server: StreamingServer) -> None:
    cid = await running(ctx, command=("sleep", "1000"))
    url = exec_url(server, ctx, cid, ["true"], stdout=True)
    assert url.startswith("http://127.0.0.1:") and ":0/" not in url
    assert url.split("/")[3] == "exec"


async def test_exec_streams_stdout_stderr_and_the_exit_code(
    ctx: Harness, server: StreamingServer
) -> None:
    cid = await running(ctx, command=("sleep", "1000"))
    cmd = ["sh", "-c", "echo out; echo err >&2; exit 3"]
    out = await spdy.run(exec_url(server, ctx, cid, cmd, stdout=True, stderr=True))
    assert (out.protocol, out.stdout, out.stderr) == ("v4.channel.k8s.io", b"out\n", b"err\n")
    status = out.status()
    assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
    assert status["details"] == {"causes": [{"reason": "ExitCode", "message": "3"}]}


async def test_a_successful_exec_reports_success(ctx: Harness, server: StreamingServer) -> None:
    cid = await running(ctx, command=("sleep", "1000"))
    out = await spdy.run(exec_url(server, ctx, cid, ["echo", "hi"], stdout=True, stderr=True))
    assert out.stdout == b"hi\n"
    assert out.status() == {"metadata": {}, "status": "Success"}


async def test_older_protocols_report_failure_as_text(
    ctx: Harness, server: StreamingServer
) -> None:
    cid = await running(ctx, command=("sleep", "1000"))
    url = exec_url(server, ctx, cid, ["exit", "2"], stdout=True)
    out = await spdy.run(url, stderr=False, protocols=("v2.channel.k8s.io",))
    assert out.protocol == "v2.channel.k8s.io"
    assert out.error.startswith(b"command terminated with non-zero exit code: ")
    assert out.error.endswith(b"exit code 2")


async def test_exec_stdin_until_eof(ctx: Harness, server: StreamingServer) -> None:
    cid = await running(ctx, command=("sleep", "1000"))
    url = exec_url(server, ctx, cid, ["cat"], stdin=True, stdout=True, stderr=True)
    out = await spdy.run(url, stdin=b"hello\nworld\n")
    assert out.stdout == b"hello\nworld\n"
    assert out.status()["status"] == "Success"


async def test_exec_with_a_terminal_and_resize(ctx: Harness, server: StreamingServer) -> None:
    cid = await running(ctx, command=("sleep", "1000"))
    url = exec_url(server, ctx, cid, ["sh"], tty=True, stdin=True, stdout=True)
    async with spdy.remote_command(url, stdin=True, tty=True) as rc:
        assert set(rc.streams) == {"error", "stdin", "stdout", "resize"}
        await rc.resize(101, 33)
        seen = b""
        for _ in range(50):  # the resize and the line travel on different streams
            await rc["stdin"].write(b"stty size\n")
            seen += await spdy.read_until(rc["stdout"], b"\n", timeout=5)
            if b"33 101" in seen:
                break
        assert b"33 101" in seen
        await rc["stdin"].write(b"exit 0\n")
        assert json.loads(await rc.status())["status"] == "Success"


async def test_attach_to_a_container_with_stdin_and_tty(
    ctx: Harness, server: StreamingServer, backend: MemoryBackend
) -> None:
    cid = await running(ctx, command=("cat",), stdin=True, tty=True)
    url = server.url_for(
        ctx.container_stream.prepare_attach(cid, stdin=True, stdout=True, tty=True)
    )
    async with spdy.remote_command(url, stdin=True, tty=True) as rc:
        await rc["stdin"].write(b"ping\n")
        assert b"ping" in await spdy.read_until(rc["stdout"], b"ping", timeout=10)
        backend.runtime.exit_container(cid, 0)
        await settle()
        assert json.loads(await rc.status())["status"] == "Success"


async def test_attach_stdin_eof_closes_a_stdin_once_containers_stdin(
    ctx: Harness, server: StreamingServer
) -> None:
    """As containerd's CRI: `cat` reads EOF, exits, and the attach sees its output to the end."""
    cid = await running(ctx, command=("cat",), stdin=True, stdin_once=True)
    url = server.url_for(
        ctx.container_stream.prepare_attach(cid, stdin=True, stdout=True, stderr=True)
    )
    out = await asyncio.wait_for(spdy.run(url, stdin=b"hello\n"), 10)
    assert (out.stdout, out.status()["status"]) == (b"hello\n", "Success")
    await settle()
    assert ctx.containers.get(cid).state == ContainerState.EXITED


async def test_attach_stdin_eof_detaches_from_a_container_that_keeps_stdin(
    ctx: Harness, server: StreamingServer
) -> None:
    """Without stdin_once the container's stdin stays open for the next client."""
    cid = await running(ctx, command=("cat",), stdin=True)
    url = server.url_for(
        ctx.container_stream.prepare_attach(cid, stdin=True, stdout=True, stderr=True)
    )
    out = await asyncio.wait_for(spdy.run(url, stdin=b"one\n"), 10)
    assert out.status()["status"] == "Success"
    await settle()
    assert ctx.containers.get(cid).state == ContainerState.RUNNING
    url = server.url_for(ctx.container_stream.prepare_attach(cid, stdin=True, stdout=True))
    async with spdy.remote_command(url, stdin=True, stderr=False) as rc:
        await rc["stdin"].write(b"two\n")
        assert b"two" in await spdy.read_until(rc["stdout"], b"two", timeout=10)


async def test_port_forward_reaches_the_pods_localhost(
    ctx: Harness, server: StreamingServer
) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"echo:" + await reader.read())
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    url = server.url_for(ctx.container_stream.prepare_port_forward(sid, [port]))
    try:
        data, error = await spdy.forward(url, port, b"hello")
    finally:
        listener.close()
    assert (data, error) == (b"echo:hello", b"")


async def test_port_forward_to_a_closed_port_reports_on_the_error_stream(
    ctx: Harness, server: StreamingServer
) -> None:
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    data, error = await spdy.forward(
        server.url_for(ctx.container_stream.prepare_port_forward(sid)), port, b"x"
    )
    assert data == b"" and f"localhost:{port}".encode() in error


async def test_a_token_serves_once(ctx: Harness, server: StreamingServer) -> None:
    cid = await running(ctx, command=("sleep", "1000"))
    url = exec_url(server, ctx, cid, ["true"], stdout=True)
    await spdy.run(url, stderr=False)
    with pytest.raises(spdy.UpgradeRefused) as refused:
        await spdy.run(url, stderr=False)
    assert refused.value.status == 404


async def test_an_unknown_protocol_is_forbidden(ctx: Harness, server: StreamingServer) -> None:
    cid = await running(ctx, command=("sleep", "1000"))
    url = exec_url(server, ctx, cid, ["true"], stdout=True)
    with pytest.raises(spdy.UpgradeRefused) as refused:
        await spdy.run(url, protocols=("v9.channel.k8s.io",))
    assert refused.value.status == 403
    assert "X-Accepted-Stream-Protocol-Versions: v4.channel.k8s.io" in refused.value.head


async def test_requests_are_validated_as_kubelet_does(ctx: Harness) -> None:
    cid = await running(ctx, command=("sleep", "1000"))
    with pytest.raises(InvalidArgument):
        ctx.container_stream.prepare_exec(cid, [], stdout=True)
    with pytest.raises(InvalidArgument):
        ctx.container_stream.prepare_exec(cid, ["true"])
    with pytest.raises(InvalidArgument):
        ctx.container_stream.prepare_exec(cid, ["true"], tty=True, stdout=True, stderr=True)
    with pytest.raises(InvalidArgument):
        ctx.container_stream.prepare_attach(cid, tty=True, stderr=True)
    done = await running(ctx, command=("true",))
    await settle()
    with pytest.raises(FailedPrecondition):
        ctx.container_stream.prepare_exec(done, ["true"], stdout=True)


async def test_the_cri_rpcs_hand_out_urls(ctx: Harness, server: StreamingServer) -> None:
    cid = await running(ctx, command=("sleep", "1000"))
    socket = f"/tmp/hexcri-stream-{id(server)}.sock"
    grpc_server = await start_server(ctx.uses, socket, server)
    try:
        async with grpc.aio.insecure_channel(f"unix://{socket}") as channel:
            rt = cri_grpc.RuntimeServiceStub(channel)  # type: ignore[no-untyped-call]
            reply = await rt.Exec(
                cri.ExecRequest(container_id=cid[:12], cmd=["echo", "x"], stdout=True)
            )
            assert reply.url.startswith(server.base_url + "/exec/")
            out = await spdy.run(reply.url, stderr=False)
            assert out.stdout == b"x\n"
            with pytest.raises(grpc.aio.AioRpcError) as bad:
                await rt.Exec(cri.ExecRequest(container_id=cid, cmd=["true"]))
            assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await rt.PortForward(cri.PortForwardRequest(pod_sandbox_id="nope"))
            assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        await stop_server(grpc_server, 1.0)


async def test_websocket_is_refused_with_a_clear_message(
    ctx: Harness, server: StreamingServer
) -> None:
    cid = await running(ctx, command=("sleep", "1000"))
    url = exec_url(server, ctx, cid, ["true"], stdout=True)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", int(url.split(":")[2].split("/")[0])
    )
    path = "/" + url.split("/", 3)[3]
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".encode()
    )
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"WebSocket streaming is not supported" in answer
