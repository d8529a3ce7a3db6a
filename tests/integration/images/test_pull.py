"""Pulling from the local registry into a real containerd; listing and removing images."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from adapters.containerd import api
from adapters.containerd.client import ContainerdClient
from adapters.containerd.images import ContainerdImageStore
from adapters.containerd.pull import ContainerdImagePuller
from adapters.registry import RegistryClient
from domain.model import AuthConfig
from domain.reference import parse
from ports.registry import BlobCorrupted, RegistryAuthError
from tests.support import oci
from tests.support.containerd import Containerd
from tests.support.registry import PASSWORD, USERNAME, Front, Registry

pytestmark = [pytest.mark.containerd, pytest.mark.registry]

RICH_CONFIG = {
    "Entrypoint": ["/bin/sh", "-c"],
    "Cmd": ["echo hello"],
    "Env": ["PATH=/bin", "GREETING=hi"],
    "WorkingDir": "/tmp",
    "User": "65534:65534",
    "StopSignal": "SIGINT",
    "Labels": {"org.example": "yes"},
    "Volumes": {"/data": {}},
    "ExposedPorts": {"8080/tcp": {}},
}


@dataclass
class Node:
    """A puller and a store on a namespace of their own."""

    client: ContainerdClient
    registry_client: RegistryClient
    puller: ContainerdImagePuller
    store: ContainerdImageStore
    containerd: Containerd

    @property
    def namespace(self) -> str:
        return self.client.namespace

    def ctr(self, *args: str) -> str:
        return self.containerd.ctr(*args, namespace=self.namespace)

    async def content(self) -> set[str]:
        found: set[str] = set()
        async for more in self.client.content.List(api.content.ListContentRequest()):
            found |= {info.digest for info in more.info}
        return found

    async def snapshots(self) -> set[str]:
        names: set[str] = set()
        request = api.snapshots.ListSnapshotsRequest(snapshotter="overlayfs")
        async for reply in self.client.snapshots.List(request):
            names |= {info.name for info in reply.info}
        return names


@pytest.fixture
async def node(containerd: Containerd, containerd_client: ContainerdClient) -> AsyncIterator[Node]:
    client = containerd_client.with_namespace(f"hexcri-img-{secrets.token_hex(4)}")
    registry_client = RegistryClient(retries=1, backoff=0.01)
    store = ContainerdImageStore(client)
    node = Node(
        client, registry_client, ContainerdImagePuller(client, registry_client), store, containerd
    )
    try:
        yield node
    finally:
        for image in await store.list():
            await store.remove(image)
        await registry_client.close()
        await client.close()


def unique_image(label: str, **config: object) -> oci.OciImage:
    return oci.busybox_image(config=config, extra_files={"id": label.encode()})


async def test_pull_by_tag(node: Node, registry: Registry) -> None:
    image = unique_image("by-tag", **RICH_CONFIG)
    registry.push(image, "pull/bytag", "v1")
    ref = registry.ref("pull/bytag", "v1")
    pulled = await node.puller.pull(parse(ref), None)
    assert pulled.id == image.config_digest
    assert pulled.repo_tags == (ref,)
    assert pulled.repo_digests == (registry.ref("pull/bytag", digest=image.digest),)
    assert pulled.chain_id == image.chain_id
    assert pulled.size == image.size
    cfg = pulled.config
    assert cfg.entrypoint == ("/bin/sh", "-c") and cfg.cmd == ("echo hello",)
    assert cfg.env == ("PATH=/bin", "GREETING=hi") and cfg.working_dir == "/tmp"
    assert cfg.user == "65534:65534" and cfg.stop_signal == "SIGINT"
    assert cfg.labels == {"org.example": "yes"}
    assert cfg.volumes == ("/data",) and cfg.exposed_ports == ("8080/tcp",)
    assert pulled.uid == 65534

    [listed] = await node.store.list()
    assert listed.id == pulled.id
    assert listed.repo_tags == pulled.repo_tags
    assert listed.repo_digests == pulled.repo_digests
    assert listed.size == pulled.size and listed.config == pulled.config
    assert listed.chain_id == pulled.chain_id
    assert set(image.all_blobs()) | {image.digest} <= await node.content()
    assert image.chain_id in await node.snapshots()
    # the unpacked rootfs is a working busybox
    out = node.ctr("run", "--rm", ref, f"pull-{secrets.token_hex(3)}", "/bin/cat", "/id")
    assert out == "by-tag"


async def test_pull_without_tag_means_latest(node: Node, registry: Registry) -> None:
    image = unique_image("latest")
    registry.push(image, "pull/latest", "latest")
    pulled = await node.puller.pull(parse(registry.ref("pull/latest")), None)
    assert pulled.repo_tags == (registry.ref("pull/latest", "latest"),)
    assert pulled.id == image.config_digest


async def test_pull_by_digest(node: Node, registry: Registry) -> None:
    image = unique_image("by-digest")
    registry.push(image, "pull/bydigest", "v1")
    ref = registry.ref("pull/bydigest", digest=image.digest)
    pulled = await node.puller.pull(parse(ref), None)
    assert pulled.repo_tags == ()
    assert pulled.repo_digests == (ref,)
    [listed] = await node.store.list()
    assert listed.repo_digests == (ref,) and listed.repo_tags == ()


async def test_two_tags_one_image_and_distinct_images(node: Node, registry: Registry) -> None:
    images = [unique_image(f"distinct-{n}") for n in range(3)]
    registry.push(images[0], "pull/tags", "one")
    registry.push(images[0], "pull/tags", "two")
    registry.push(images[1], "pull/other", "v1")
    registry.push(images[2], "pull/third", "v1")
    for ref in ("pull/tags:one", "pull/tags:two", "pull/other:v1", "pull/third:v1"):
        await node.puller.pull(parse(f"{registry.host}/{ref}"), None)
    listed = {i.id: i for i in await node.store.list()}
    assert set(listed) == {i.config_digest for i in images}
    both = listed[images[0].config_digest]
    assert set(both.repo_tags) == {registry.ref("pull/tags", t) for t in ("one", "two")}
    assert both.repo_digests == (registry.ref("pull/tags", digest=images[0].digest),)


async def test_index_pulls_linux_amd64(node: Node, registry: Registry) -> None:
    index = oci.multiplatform_busybox()
    registry.push(index, "pull/multi", "v1")
    ref = registry.ref("pull/multi", "v1")
    pulled = await node.puller.pull(parse(ref), None)
    amd64 = index.child("linux", "amd64")
    assert pulled.id == amd64.config_digest
    assert pulled.repo_digests == (registry.ref("pull/multi", digest=index.digest),)
    [listed] = await node.store.list()
    assert listed.id == amd64.config_digest and listed.chain_id == amd64.chain_id
    assert listed.repo_digests == pulled.repo_digests
    arm = index.child("linux", "arm64", "v8")
    assert arm.config_digest not in await node.content()
    out = node.ctr("run", "--rm", ref, f"multi-{secrets.token_hex(3)}", "/bin/cat", "/platform")
    assert out == "linux/amd64"


async def test_remove_lets_gc_reclaim_unshared_content(node: Node, registry: Registry) -> None:
    first, second = unique_image("gc-first"), unique_image("gc-second")
    registry.push(first, "pull/gc", "first")
    registry.push(second, "pull/gc", "second")
    await node.puller.pull(parse(registry.ref("pull/gc", "first")), None)
    await node.puller.pull(parse(registry.ref("pull/gc", "second")), None)
    shared_layer = oci.busybox_layer()
    images = {i.id: i for i in await node.store.list()}
    await node.store.remove(images[first.config_digest])
    content, snapshots = await node.content(), await node.snapshots()
    own = set(first.all_blobs()) | {first.digest}
    assert not (own - {shared_layer.digest}) & content
    assert shared_layer.digest in content  # still needed by the second image
    assert first.chain_id not in snapshots and second.chain_id in snapshots
    assert shared_layer.diff_id in snapshots  # the shared parent snapshot
    assert [i.id for i in await node.store.list()] == [second.config_digest]

    await node.store.remove(images[second.config_digest])
    assert await node.store.list() == []
    assert await node.content() == set()
    assert await node.snapshots() == set()
    leases = await node.client.leases.List(api.leases.ListRequest())
    assert list(leases.leases) == []


async def test_concurrent_pulls_share_one_download(
    node: Node, registry: Registry, registry_front: Callable[..., Front]
) -> None:
    image = oci.large_image(layers=2, mib_per_layer=2, seed=11)
    registry.push(image, "pull/shared", "v1")
    front = registry_front()
    ref = parse(front.ref("pull/shared", "v1"))
    results = await asyncio.gather(*(node.puller.pull(ref, None) for _ in range(4)))
    assert {r.id for r in results} == {image.config_digest}
    blob_gets = [p for m, p, _ in front.requests if m == "GET" and "/blobs/" in p]
    assert sorted(blob_gets) == sorted(set(blob_gets))  # each blob fetched once
    assert len(blob_gets) == len(image.blobs)

    # and a second pull of what is there downloads no blob at all
    front.requests.clear()
    await node.puller.pull(ref, None)
    assert not [p for m, p, _ in front.requests if "/blobs/" in p]


async def test_progress_counts_the_bytes_of_a_running_pull(
    node: Node, registry: Registry, registry_front: Callable[..., Front]
) -> None:
    """`hexcri play`'s progress bar: bytes fetched of all the image's blobs, while it runs."""
    image = oci.large_image(layers=2, mib_per_layer=2, seed=12)
    registry.push(image, "pull/progress", "v1")
    stalled = image.manifest["layers"][-1]["digest"]
    front = registry_front(stall={stalled})  # stops after half of the last layer
    ref = parse(front.ref("pull/progress", "v1"))
    assert node.puller.progress(ref) is None
    pulling = asyncio.create_task(node.puller.pull(ref, None))
    total = image.manifest["config"]["size"] + sum(x["size"] for x in image.manifest["layers"])
    half = total - image.manifest["layers"][-1]["size"] // 2
    seen = None
    for _ in range(200):  # until the stalled layer has sent its half
        seen = node.puller.progress(ref)
        if seen is not None and seen.done >= half - 64 * 1024:
            break
        await asyncio.sleep(0.05)
    assert seen is not None and seen.total == total and half - 64 * 1024 <= seen.done < total
    pulling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pulling
    assert node.puller.progress(ref) is None


async def test_corrupted_blob_leaves_nothing_visible(
    node: Node, registry: Registry, registry_front: Callable[..., Front]
) -> None:
    image = unique_image("corrupt")
    registry.push(image, "pull/corrupt", "v1")
    bad_layer = image.manifest["layers"][-1]["digest"]
    front = registry_front(tamper={bad_layer})
    with pytest.raises(BlobCorrupted, match=bad_layer):
        await node.puller.pull(parse(front.ref("pull/corrupt", "v1")), None)
    assert await node.store.list() == []
    assert bad_layer not in await node.content()
    assert image.chain_id not in await node.snapshots()
    leases = await node.client.leases.List(api.leases.ListRequest())
    assert list(leases.leases) == []


async def test_pull_with_credentials(node: Node, auth_registry: Registry) -> None:
    image = unique_image("private")
    auth_registry.push(image, "pull/private", "v1")
    ref = parse(auth_registry.ref("pull/private", "v1"))
    with pytest.raises(RegistryAuthError):
        await node.puller.pull(ref, None)
    pulled = await node.puller.pull(ref, AuthConfig(username=USERNAME, password=PASSWORD))
    assert pulled.id == image.config_digest


async def test_fs_info_reports_the_snapshotter(node: Node, registry: Registry) -> None:
    image = unique_image("fsinfo")
    registry.push(image, "pull/fsinfo", "v1")
    await node.puller.pull(parse(registry.ref("pull/fsinfo", "v1")), None)
    [usage] = await node.store.fs_info()
    # containerd's Introspection says where its snapshotter is: in this containerd's root
    root = node.containerd.root / "root" / "io.containerd.snapshotter.v1.overlayfs"
    assert usage.mountpoint == str(root)
    assert usage.used_bytes > len(oci.busybox_layer().blob)
    assert usage.inodes_used > len(oci.APPLETS)
    assert usage.timestamp > 0


async def test_upstream_name_through_a_hosts_toml_mirror(
    containerd: Containerd, containerd_client: ContainerdClient, registry: Registry, tmp_path
) -> None:
    """As on an air-gapped node: registry.k8s.io/pause comes from the local mirror."""
    from adapters.registry import HostsConfig

    pause = oci.pause_image()
    registry.push(pause, "pause", "3.9")
    certs = tmp_path / "certs.d" / "registry.k8s.io"
    certs.mkdir(parents=True)
    (certs / "hosts.toml").write_text(
        f'server = "https://registry.k8s.io"\n[host."http://{registry.host}"]\n'
        '  capabilities = ["pull", "resolve"]\n'
    )
    client = containerd_client.with_namespace(f"hexcri-img-{secrets.token_hex(4)}")
    registry_client = RegistryClient(HostsConfig(str(tmp_path / "certs.d")), retries=0)
    store = ContainerdImageStore(client)
    try:
        puller = ContainerdImagePuller(client, registry_client)
        pulled = await puller.pull(parse("registry.k8s.io/pause:3.9"), None)
        assert pulled.id == pause.config_digest
        assert pulled.repo_tags == ("registry.k8s.io/pause:3.9",)
        assert pulled.config.entrypoint == ("/pause",)
        [listed] = await store.list()
        assert listed.repo_digests == (f"registry.k8s.io/pause@{pause.digest}",)
    finally:
        for image in await store.list():
            await store.remove(image)
        await registry_client.close()
        await client.close()
