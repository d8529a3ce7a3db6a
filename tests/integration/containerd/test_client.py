"""The containerd client against a real containerd: namespace, error mapping, unreachable."""

from __future__ import annotations

import pytest

from adapters.containerd import api
from adapters.containerd.client import ContainerdClient
from domain.errors import NotFound, Unavailable
from tests.support.containerd import Containerd

pytestmark = pytest.mark.containerd


async def test_version_and_not_found(containerd_client: ContainerdClient) -> None:
    assert await containerd_client.server_version()
    with pytest.raises(NotFound, match="nope"):
        await containerd_client.containers.Get(api.containers.GetContainerRequest(id="nope"))


async def test_calls_carry_the_namespace(
    containerd: Containerd, containerd_client: ContainerdClient
) -> None:
    await containerd_client.leases.Create(api.leases.CreateRequest(id="ns-probe"))
    try:
        assert "ns-probe" in containerd.ctr("leases", "ls", "-q").split()
        other = containerd_client.with_namespace("elsewhere")
        listed = await other.leases.List(api.leases.ListRequest())
        assert "ns-probe" not in [lease.id for lease in listed.leases]
        await other.close()
    finally:
        await containerd_client.leases.Delete(api.leases.DeleteRequest(id="ns-probe"))


async def test_unreachable_containerd_is_unavailable(tmp_path: object) -> None:
    client = ContainerdClient("/tmp/hexcri-no-such-containerd.sock", reconnect_timeout=0.3)
    with pytest.raises(Unavailable, match="is not reachable"):
        await client.server_version()
    await client.close()
