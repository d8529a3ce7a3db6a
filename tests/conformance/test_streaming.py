"""cri-tools `pkg/validate/streaming.go` and `streaming_linux.go`: "Streaming" / "runtime should
support streaming interfaces". Exec, Attach and PortForward answer a URL of the runtime's
streaming server; a kubectl-like client then streams through it. Here that client is our
SPDY/3.1 one (`tests/support/spdy_client.py`), speaking what client-go's `remotecommand` and
`portforward` speak: the stream types, request IDs and half-closes they use."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import platform
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import pytest
from cri_api.v1 import api_pb2 as cri

from adapters.streaming.session import SpdySession, SpdyStream
from tests.conformance import framework as fw
from tests.conformance.conftest import Node
from tests.conformance.images import STAGING
from tests.conformance.test_networking import (
    WEB_SERVER_CONTAINER_PORT,
    check_main_page,
    create_web_server_container,
)
from tests.support import oci
from tests.support import spdy_client as spdy
from tests.support.cni import free_port

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]

# consts.go, consts_linux.go
ATTACH_ECHO_HELLO_OUTPUT = "hello"
WEB_SERVER_HOST_NET_CONTAINER_PORT = 12003  # the port the hostnet-nginx image serves on
_GOARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
HOST_NET_WEB_SERVER_IMAGE = f"{STAGING}hostnet-nginx-{_GOARCH}"
EXEC_STDIN_CLOSE_TIMEOUT = 20.0  # defaultExecStdinCloseTimeout
STREAM_TIMEOUT = 30.0  # a stream that has not ended by then never will


@pytest.fixture(scope="module")
def host_net_web_server_image(node: Node) -> str:
    """The stand-in of upstream's hostnet-nginx image: a web server on port 12003, pushed
    under its upstream name (the pull goes through the node's gcr.io mirror)."""
    image = oci.web_server_image("hostnet-nginx", WEB_SERVER_HOST_NET_CONTAINER_PORT)
    node.stack.registry.push(image, HOST_NET_WEB_SERVER_IMAGE.split("/", 1)[1], "latest")
    return HOST_NET_WEB_SERVER_IMAGE


# --- the CRI calls, and what the client checks of their answers --------------------------------


def checked_url(c: fw.Endpoint, url: str) -> str:
    """The client's checks of a streaming answer: the URL is set (cri-client: "URL is not
    set"); then parseURL, which asks the runtime's Version (a "docker" runtime gets a default
    host) and wants a host in the URL."""
    assert url, "URL is not set"
    c.runtime.Version(cri.VersionRequest(version="0.1.0"), timeout=fw.RPC_TIMEOUT)
    assert urlsplit(url).netloc, f"The host of URL should not be empty: {url!r}"
    return url


def create_exec(c: fw.Endpoint, request: cri.ExecRequest) -> str:
    return checked_url(c, c.runtime.Exec(request, timeout=fw.RPC_TIMEOUT).url)


def create_default_attach(c: fw.Endpoint, container_id: str) -> str:
    request = cri.AttachRequest(
        container_id=container_id, stdin=True, stdout=True, stderr=True, tty=False
    )
    return checked_url(c, c.runtime.Attach(request, timeout=fw.RPC_TIMEOUT).url)


def create_default_port_forward(c: fw.Endpoint, pod_id: str) -> str:
    request = cri.PortForwardRequest(pod_sandbox_id=pod_id)
    return checked_url(c, c.runtime.PortForward(request, timeout=fw.RPC_TIMEOUT).url)


def create_shell_container(
    c: fw.Endpoint, pod_id: str, pod: cri.PodSandboxConfig, prefix: str
) -> str:
    """createShellContainer: /bin/sh with an open stdin, closed after the first attach."""
    config = fw.container_config(
        prefix,
        command=fw.SHELL_CMD,
        linux=cri.LinuxContainerConfig(),
        stdin=True,
        stdin_once=True,
        tty=False,
    )
    return fw.create_container(c, config, pod_id, pod)


def pod_with_port_mapping(
    c: fw.Endpoint, mappings: list[cri.PortMapping], host_net: bool
) -> cri.PodSandboxConfig:
    """createPodSandboxWithPortMapping's config (in the node's network when `host_net`)."""
    linux = cri.LinuxPodSandboxConfig()
    if host_net:
        linux.security_context.namespace_options.network = cri.NODE
    prefix = "create-PodSandbox-with-port-mapping"
    return fw.pod_config(c, prefix, port_mappings=mappings, linux=linux)


def assert_success(output: spdy.Output) -> None:
    """What makes client-go's Stream return no error: the status stream says Success."""
    status = output.status()
    assert status.get("status") == "Success", f"stream failed: {output.error!r}"


# --- exec and attach, as client-go's SPDY executor streams them ------------------------------


async def _collect(stream: SpdyStream, into: bytearray) -> None:
    while chunk := await stream.read():
        into += chunk


async def _stream_exec(url: str, tty: bool) -> spdy.Output:
    """checkExec's Stream: stdout and stderr; with a tty, stdin too (no stderr then), which
    stays open until the stream ends or for EXEC_STDIN_CLOSE_TIMEOUT."""
    async with spdy.remote_command(url, stdin=tty, tty=tty) as rc:
        out, err = bytearray(), bytearray()
        pumps = [
            _collect(rc[k], buf) for k, buf in (("stdout", out), ("stderr", err)) if k in rc.streams
        ]
        closer = asyncio.create_task(_close_after(rc, EXEC_STDIN_CLOSE_TIMEOUT)) if tty else None
        try:
            async with asyncio.timeout(STREAM_TIMEOUT):
                await asyncio.gather(*pumps)  # the streams queue what comes meanwhile
                error = await rc.status()
        finally:
            if closer is not None:
                closer.cancel()
                await _close_after(rc, 0)
        return spdy.Output(rc.protocol, bytes(out), bytes(err), error)


async def _close_after(rc: spdy.RemoteCommand, delay: float) -> None:
    await asyncio.sleep(delay)
    await rc["stdin"].close()


def check_exec(url: str, stdout: str, exact: bool, tty: bool) -> None:
    output = asyncio.run(_stream_exec(url, tty))
    assert_success(output)
    if exact:
        assert output.stdout.decode() == stdout, "The stdout of exec should be " + stdout
    else:
        assert stdout in output.stdout.decode(), "The stdout of exec should contain " + stdout
    assert output.stderr == b"", "The stderr of exec should be empty"


async def _poll(probe: Callable[[], bool], timeout: float, interval: float = 1.0) -> bool:
    """Gomega's Eventually on the event loop: True once `probe()` is, False at `timeout`."""
    for _ in range(int(timeout / interval) + 1):
        if probe():
            return True
        await asyncio.sleep(interval)
    return False


async def _stream_attach(url: str) -> spdy.Output:
    """checkAttach: once the container is quiet, type `echo -n hello` on its stdin and watch
    stdout; then close stdin (the container's shell ends, and with it the stream)."""
    async with spdy.remote_command(url, stdin=True) as rc:
        out, err = bytearray(), bytearray()
        pumps = asyncio.gather(_collect(rc["stdout"], out), _collect(rc["stderr"], err))
        status = asyncio.create_task(rc.status())
        try:
            header = bytes(out)
            await asyncio.sleep(1)

            def quiet() -> bool:
                nonlocal header
                old, header = header, bytes(out)
                return len(header) == len(old)

            assert await _poll(quiet, 10), "The container should stop output when there is no input"
            await rc["stdin"].write((" ".join(fw.ECHO_HELLO_CMD) + "\n").encode())

            def after_input() -> str:
                seen = bytes(out)
                return (seen[len(header) :] if seen.startswith(header) else seen).decode()

            hello = ATTACH_ECHO_HELLO_OUTPUT
            await _poll(lambda: after_input() == hello, 60)
            assert after_input() == hello, "The stdout of attach should be hello"
            for _ in range(3):  # Consistently, 3 s
                await asyncio.sleep(1)
                assert after_input() == hello, (
                    "The stdout of attach should not contain other things"
                )
            await rc["stdin"].close()
            async with asyncio.timeout(STREAM_TIMEOUT):
                error = await status
                await pumps
        finally:  # a gather's error left unread would be logged at garbage collection
            status.cancel()
            pumps.cancel()
            await asyncio.gather(status, pumps, return_exceptions=True)
        return spdy.Output(rc.protocol, bytes(out), bytes(err), error)


def check_attach(url: str) -> None:
    output = asyncio.run(_stream_attach(url))
    assert_success(output)
    assert output.stderr == b"", "The stderr of attach should be empty"


# --- port-forward, as client-go's portforward.ForwardPorts does it ---------------------------


async def _splice(
    session: SpdySession,
    ids: itertools.count[int],
    port: int,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    errors: list[str],
) -> None:
    """One local connection: an error and a data stream with a request ID of their own; local
    bytes go to the data stream (half-closed at the local EOF), the data stream's to local."""
    headers = (("port", str(port)), ("requestid", str(next(ids))))
    try:
        error = await session.open((("streamtype", "error"), *headers))
        await error.close()  # client-go writes nothing on it
        data = await session.open((("streamtype", "data"), *headers))

        async def to_pod() -> None:
            while chunk := await reader.read(64 * 1024):
                await data.write(chunk)
            await data.close()

        upstream = asyncio.create_task(to_pod())
        try:
            while chunk := await data.read():
                writer.write(chunk)
                await writer.drain()
        finally:
            upstream.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await upstream  # its own error, if any, is kept below
        async with asyncio.timeout(5):
            if message := await spdy.read_all(error):
                errors.append(message.decode(errors="replace"))
    except Exception as e:  # a handler's error would only be logged: keep it for the report
        errors.append(f"{type(e).__name__}: {e}")
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def forward_ports(url: str, host_port: int, container_port: int) -> AsyncIterator[list[str]]:
    """`<host_port>:<container_port>`: one SPDY connection to `url`; every connection to
    127.0.0.1:<host_port> is forwarded over it. Yields the errors the forwarder met."""
    errors: list[str] = []
    async with spdy.upgrade(url, spdy.PORT_FORWARD) as (session, _):
        ids = itertools.count()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _splice(session, ids, container_port, reader, writer, errors)

        server = await asyncio.start_server(handle, "127.0.0.1", host_port)
        try:
            yield errors
        finally:
            server.close()


def check_port_forward(c: fw.Endpoint, url: str, host_port: int, container_port: int) -> None:
    """checkPortForward: forward, then the web server's main page answers on localhost."""

    async def run() -> None:
        async with forward_ports(url, host_port, container_port) as errors:
            try:
                await asyncio.to_thread(check_main_page, c, "", host_port, 0)
            except AssertionError as e:
                raise AssertionError(f"{e}; port-forward errors: {errors}") from None

    asyncio.run(run())


def exec_echo_hello(c: fw.Endpoint, expected: str, exact: bool, **options: bool) -> None:
    """Exec ECHO_HELLO_CMD with `options` in a container of a new pod; check its output."""
    with fw.pod_sandbox(c) as (pod_id, pod):
        container_id = fw.create_default_container(c, pod_id, pod, "container-for-exec-test")
        fw.start_container(c, container_id)
        request = cri.ExecRequest(
            container_id=container_id, cmd=fw.ECHO_HELLO_CMD, stdout=True, **options
        )
        check_exec(create_exec(c, request), expected, exact=exact, tty=options.get("tty", False))


# --- runtime should support streaming interfaces ---------------------------------------------


@fw.on_both()
def test_exec_tty_false_stdin_false(c: fw.Endpoint) -> None:
    """runtime should support exec with tty=false and stdin=false [Conformance]"""
    exec_echo_hello(c, fw.ECHO_HELLO_OUTPUT, exact=True, stderr=True)


@fw.on_both()
def test_exec_tty_true_stdin_true(c: fw.Endpoint) -> None:
    """runtime should support exec with tty=true and stdin=true [Conformance]"""
    exec_echo_hello(c, "hello", exact=False, tty=True, stdin=True)


@fw.on_both()
def test_attach(c: fw.Endpoint) -> None:
    """runtime should support attach [Conformance]"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        container_id = create_shell_container(c, pod_id, pod, "container-for-attach-test")
        fw.start_container(c, container_id)
        url = create_default_attach(c, container_id)
        check_attach(url)


@fw.on_both()
def test_portforward(c: fw.Endpoint) -> None:
    """runtime should support portforward [Conformance]"""
    mappings = [cri.PortMapping(container_port=WEB_SERVER_CONTAINER_PORT)]
    with fw.pod_sandbox(c, pod_with_port_mapping(c, mappings, False)) as (pod_id, pod):
        prefix = "container-for-portforward-test"
        container_id = create_web_server_container(c, pod_id, pod, prefix)
        fw.start_container(c, container_id)
        check_main_page(c, pod_id, 0, WEB_SERVER_CONTAINER_PORT)
        url = create_default_port_forward(c, pod_id)
        # upstream's fixed host port 12001, which must be free: a free port here
        check_port_forward(c, url, free_port(), WEB_SERVER_CONTAINER_PORT)


@fw.on_both()
def test_portforward_in_host_network(c: fw.Endpoint, host_net_web_server_image: str) -> None:
    """runtime should support portforward in host network"""
    port = WEB_SERVER_HOST_NET_CONTAINER_PORT
    mappings = [cri.PortMapping(container_port=port)]
    with fw.pod_sandbox(c, pod_with_port_mapping(c, mappings, True)) as (pod_id, pod):
        config = fw.container_config(
            "container-for-host-net-portforward-test",
            image=host_net_web_server_image,
            command=[],
            linux=cri.LinuxContainerConfig(),
        )
        container_id = fw.create_container(c, config, pod_id, pod)
        fw.start_container(c, container_id)
        check_main_page(c, "", port, 0)
        url = create_default_port_forward(c, pod_id)
        # upstream's fixed host port 12002, which must be free: a free port here
        check_port_forward(c, url, free_port(), port)
