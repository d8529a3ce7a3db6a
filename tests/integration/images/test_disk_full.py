"""A pull into a containerd whose disk fills up fails with a clear error and leaves nothing."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from adapters.containerd import api
from adapters.containerd.client import ContainerdClient
from adapters.containerd.images import ContainerdImageStore
from adapters.containerd.pull import ContainerdImagePuller
from adapters.registry import RegistryClient
from domain.errors import ResourceExhausted
from domain.reference import parse
from tests.support import oci
from tests.support.containerd import Containerd
from tests.support.registry import Registry

pytestmark = [pytest.mark.containerd, pytest.mark.registry]

DISK = "24m"


@pytest.fixture
def small_disk_containerd() -> Iterator[Containerd]:
    """A containerd whose root (content store, snapshots, metadata) is a 24 MiB tmpfs."""
    root = Path(tempfile.mkdtemp(prefix="hexcri-full-"))
    (root / "root").mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(root / "root")]
    subprocess.run(mount, check=True)
    containerd = Containerd(root, namespace="hexcri-full")
    try:
        containerd.start()
        yield containerd
    finally:
        containerd.cleanup()
        shutil.rmtree(root, ignore_errors=True)  # cleanup unmounted the tmpfs


@pytest.fixture
async def client(small_disk_containerd: Containerd) -> AsyncIterator[ContainerdClient]:
    c = ContainerdClient(small_disk_containerd.address, "hexcri-full")
    yield c
    await c.close()


async def test_disk_full_is_a_clear_error_and_leaves_no_image(
    client: ContainerdClient, registry: Registry
) -> None:
    image = oci.large_image(layers=4, mib_per_layer=8, seed=7)
    registry.push(image, "full/large", "v1")
    registry_client = RegistryClient(retries=1, backoff=0.01)
    puller = ContainerdImagePuller(client, registry_client)
    store = ContainerdImageStore(client)
    try:
        ref = registry.ref("full/large", "v1")
        with pytest.raises(ResourceExhausted, match="disk is full") as failed:
            await puller.pull(parse(ref), None)
        assert ref in str(failed.value) and "no space left on device" in str(failed.value)
        assert await store.list() == []
        leases = await client.leases.List(api.leases.ListRequest())
        assert list(leases.leases) == []
        # nothing of the failed pull stays: the disk is free again for a smaller image
        small = oci.busybox_image(extra_files={"id": b"small"})
        registry.push(small, "full/small", "v1")
        pulled = await puller.pull(parse(registry.ref("full/small", "v1")), None)
        assert [i.id for i in await store.list()] == [pulled.id]
        blobs = {
            info.digest
            async for reply in client.content.List(api.content.ListContentRequest())
            for info in reply.info
        }
        failed_only = {layer["digest"] for layer in image.manifest["layers"]}
        assert not (failed_only - set(small.all_blobs())) & blobs
    finally:
        await registry_client.close()
