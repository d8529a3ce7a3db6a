"""Helpers for the network integration tests: pods on the test network, traffic between them."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

from adapters.cni import CniNetwork
from adapters.netns import PyrouteNamespaces
from domain.model import PortMapping
from ports.network import PodNetworkRequest
from tests.support.cni import free_port

__all__ = ["free_port"]

ECHO_SERVER = """\
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    data = c.recv(1024)
    c.sendall(b"echo:" + data)
    c.close()
"""

ECHO_CLIENT = """\
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
c.sendall(sys.argv[3].encode())
print(c.recv(1024).decode(), end="")
"""


@dataclass
class Pod:
    sandbox_id: str
    netns: str
    ips: tuple[str, ...]
    request: PodNetworkRequest


def new_id() -> str:
    return secrets.token_hex(32)


async def start_pod(
    namespaces: PyrouteNamespaces,
    network: CniNetwork,
    ports: tuple[PortMapping, ...] = (),
    sandbox_id: str | None = None,
) -> Pod:
    """A netns and the CNI ADD, as RunPodSandbox does them; the netns goes if ADD fails."""
    sandbox_id = sandbox_id or new_id()
    path = await namespaces.create(sandbox_id)
    request = PodNetworkRequest(
        sandbox_id=sandbox_id,
        netns_path=path,
        pod_name=f"pod-{sandbox_id[:6]}",
        pod_namespace="hexcri-test",
        pod_uid=f"uid-{sandbox_id[:8]}",
        port_mappings=ports,
    )
    try:
        result = await network.setup(request)
    except BaseException:
        await namespaces.remove(path)
        raise
    return Pod(sandbox_id, path, result.ips, request)


async def stop_pod(namespaces: PyrouteNamespaces, network: CniNetwork, pod: Pod) -> None:
    await network.teardown(pod.request)
    await namespaces.remove(pod.netns)


@contextlib.asynccontextmanager
async def echo_server(netns: str, port: int) -> AsyncIterator[asyncio.subprocess.Process]:
    """A TCP echo server inside the namespace, stopped (by pid) at the end."""
    proc = await asyncio.create_subprocess_exec(
        "nsenter", f"--net={netns}", sys.executable, "-c", ECHO_SERVER, str(port),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert line.strip() == b"ready", line
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def echo_from_netns(netns: str, ip: str, port: int, text: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "nsenter", f"--net={netns}", sys.executable, "-c", ECHO_CLIENT, ip, str(port), text,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def echo_from_host(ip: str, port: int, text: str) -> str:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), 10)
    try:
        writer.write(text.encode())
        await writer.drain()
        return (await asyncio.wait_for(reader.read(1024), 10)).decode()
    finally:
        writer.close()
        await writer.wait_closed()
