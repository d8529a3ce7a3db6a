"""PyrouteNamespaces on the real kernel: pinned namespaces with loopback up."""

from __future__ import annotations

import asyncio
import os

import pytest
from pyroute2 import IPRoute

from tests.support.cni import CniEnv

pytestmark = pytest.mark.cni


IFF_UP = 1


def links(path: str) -> dict[str, bool]:
    """The interfaces of the namespace and whether each is up."""
    with IPRoute(netns=path, flags=0) as ipr:
        return {
            link.get_attr("IFLA_IFNAME"): bool(link["flags"] & IFF_UP) for link in ipr.get_links()
        }


async def test_create_list_remove(cni_env: CniEnv) -> None:
    namespaces = cni_env.namespaces()
    sandbox_id = "ab" * 32
    path = await namespaces.create(sandbox_id)
    assert path == str(cni_env.netns_dir / f"hexcri-{sandbox_id}")
    assert await namespaces.list() == [path]
    # A namespace of its own, with only `lo`, and `lo` is up.
    assert os.stat(path).st_ino != os.stat("/proc/self/ns/net").st_ino
    assert await asyncio.to_thread(links, path) == {"lo": True}

    await namespaces.remove(path)
    await namespaces.remove(path)  # idempotent
    assert await namespaces.list() == []
    assert not await asyncio.to_thread(os.path.exists, path)


async def test_list_shows_only_ours(cni_env: CniEnv) -> None:
    namespaces = cni_env.namespaces()
    (cni_env.netns_dir / "someone-else").touch()
    path = await namespaces.create("cd" * 32)
    try:
        assert await namespaces.list() == [path]
    finally:
        await namespaces.remove(path)


async def test_creating_twice_fails_and_keeps_the_first(cni_env: CniEnv) -> None:
    namespaces = cni_env.namespaces()
    path = await namespaces.create("ef" * 32)
    try:
        with pytest.raises(Exception, match="already exists"):
            await namespaces.create("ef" * 32)
        assert await asyncio.to_thread(links, path) == {"lo": True}
    finally:
        await namespaces.remove(path)


async def test_many_at_once(cni_env: CniEnv) -> None:
    namespaces = cni_env.namespaces()
    paths = await asyncio.gather(*(namespaces.create(f"{i:064x}") for i in range(10)))
    assert sorted(await namespaces.list()) == sorted(paths)
    await asyncio.gather(*(namespaces.remove(p) for p in paths))
    assert await namespaces.list() == []


async def test_instances_sharing_the_directory_see_only_their_own_pins(cni_env: CniEnv) -> None:
    from adapters.netns.namespaces import PyrouteNamespaces, instance_id

    one = PyrouteNamespaces(str(cni_env.netns_dir), instance_id("/var/lib/hexcri-a", "k8s.io"))
    two = PyrouteNamespaces(str(cni_env.netns_dir), instance_id("/var/lib/hexcri-b", "k8s.io"))
    sandbox_id = "12" * 32
    mine, theirs = await one.create(sandbox_id), await two.create(sandbox_id)
    try:
        assert mine != theirs and os.path.basename(mine).endswith(sandbox_id)
        assert await one.list() == [mine]
        assert await two.list() == [theirs]
        assert await cni_env.namespaces().list() == []  # nor an instance without a name
    finally:
        await one.remove(mine)
        await two.remove(theirs)
