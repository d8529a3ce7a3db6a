"""Issue 11, item 4 on the real stack: a pull stops when its clients are gone. A registry
that accepts the connection and never answers, or stalls half-way through a layer, holds no
connection, lease or partial ingest of hexcri's a few seconds after the client's deadline or
cancellation; a pull shared by two clients goes on while one of them is still waiting."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from tests.e2e.conftest import Cri
from tests.support import oci
from tests.support.registry import Front, FrontBehaviour
from tests.support.stack import Stack

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]

TCP_ESTABLISHED = "01"
SETTLE = 15.0  # seconds hexcri has to let go (the no-progress timeout is 300 s)


@pytest.fixture
async def c(stack: Stack) -> AsyncIterator[Cri]:
    async with grpc.aio.insecure_channel(f"unix://{stack.socket}") as channel:
        yield Cri(cri_grpc.RuntimeServiceStub(channel), cri_grpc.ImageServiceStub(channel))


def connections_to(port: int) -> int:
    """Established TCP connections whose far end is 127.0.0.1:`port` (the clients' side)."""
    count = 0
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            remote, state = fields[2], fields[3]
            if state == TCP_ESTABLISHED and int(remote.split(":")[1], 16) == port:
                count += 1
    return count


async def until(check: object, seconds: float = SETTLE) -> bool:
    """Whether `check()` came true within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.1)
    return bool(check())  # type: ignore[operator]


def pull_leases(stack: Stack) -> list[str]:
    rows = stack.containerd.ctr("leases", "ls").splitlines()[1:]
    return [row.split()[0] for row in rows if row.strip() and "pull" in row.split()[0]]


def active_ingests(stack: Stack) -> list[str]:
    return [row for row in stack.containerd.ctr("content", "active").splitlines()[1:] if row]


def port_of(front: Front) -> int:
    return int(front.server_address[1])


async def test_a_pull_from_a_silent_registry_ends_with_its_deadline(c: Cri, stack: Stack) -> None:
    front = Front(stack.registry.url, FrontBehaviour(hang={"/v2/"}, hang_for=300)).start()
    try:
        request = cri.PullImageRequest(image=cri.ImageSpec(image=front.ref("silent/image", "1")))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.images.PullImage(request, timeout=2)
        assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert front.requests, "the pull reached the registry"
        assert await until(lambda: connections_to(port_of(front)) == 0), "connection held"
        assert not pull_leases(stack) and not active_ingests(stack)
        # hexcri is fine and pulls from a registry that answers
        await c.images.PullImage(
            cri.PullImageRequest(image=cri.ImageSpec(image="busybox")), timeout=60
        )
    finally:
        front.close()


async def test_a_shared_pull_stops_when_its_last_client_goes(c: Cri, stack: Stack) -> None:
    """A stalled layer download: while one client still waits after the other's deadline,
    the download goes on; once it is cancelled too, the connection, the lease and the
    partial ingest go."""
    image = oci.busybox_image(extra_files={"noise": os.urandom(4 << 20)})
    stack.registry.push(image, "library/stalled", "latest")
    layer = image.manifest["layers"][-1]["digest"]
    # no keep-alive: a connection open to the front is one a download is using
    stalling = FrontBehaviour(stall={layer}, hang_for=300, keep_alive=False)
    front = Front(stack.registry.url, stalling).start()
    try:
        request = cri.PullImageRequest(
            image=cri.ImageSpec(image=front.ref("library/stalled", "latest"))
        )
        patient = asyncio.ensure_future(c.images.PullImage(request))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.images.PullImage(request, timeout=3)
        assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert any(layer in path for _, path, _ in front.requests), "the layer was asked for"
        assert connections_to(port_of(front)) > 0, "the other client's pull goes on"
        assert pull_leases(stack)
        assert not patient.done()

        patient.cancel()
        assert await until(lambda: connections_to(port_of(front)) == 0), "connection held"
        assert await until(lambda: not pull_leases(stack)), pull_leases(stack)
        assert await until(lambda: not active_ingests(stack)), active_ingests(stack)
        listed = await c.images.ListImages(cri.ListImagesRequest())
        assert not [i for i in listed.images if any("stalled" in t for t in i.repo_tags)]
    finally:
        front.close()
