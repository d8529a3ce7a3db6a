"""The image service on the real stack, as kubelet sees it through hexcri's CRI socket:
pulls from the local registry (through the hosts.toml mirror for docker.io names, directly
for 127.0.0.1 names), every reference form, status fields, removal down to containerd's
garbage collection, credentials, and the bad inputs a registry can hand us."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from tests.e2e.conftest import Cri
from tests.support import oci
from tests.support.registry import Front, FrontBehaviour, running_registry
from tests.support.stack import SANDBOX_IMAGE, Stack

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]

BUSYBOX_ID = oci.busybox_image().config_digest
BUSYBOX_DIGEST = oci.busybox_image().digest


@pytest.fixture
async def c(stack: Stack) -> AsyncIterator[Cri]:
    async with grpc.aio.insecure_channel(f"unix://{stack.socket}") as channel:
        yield Cri(cri_grpc.RuntimeServiceStub(channel), cri_grpc.ImageServiceStub(channel))


async def pull(c: Cri, ref: str, auth: cri.AuthConfig | None = None) -> str:
    request = cri.PullImageRequest(image=cri.ImageSpec(image=ref), auth=auth)
    return str((await c.images.PullImage(request)).image_ref)


async def status(c: Cri, ref: str, verbose: bool = False) -> cri.ImageStatusResponse:
    request = cri.ImageStatusRequest(image=cri.ImageSpec(image=ref), verbose=verbose)
    return await c.images.ImageStatus(request)


async def listed(c: Cri, ref: str = "") -> list[cri.Image]:
    flt = cri.ImageFilter(image=cri.ImageSpec(image=ref)) if ref else None
    return list((await c.images.ListImages(cri.ListImagesRequest(filter=flt))).images)


async def remove(c: Cri, ref: str) -> None:
    await c.images.RemoveImage(cri.RemoveImageRequest(image=cri.ImageSpec(image=ref)))


def content(stack: Stack) -> set[str]:
    """Digests in containerd's content store (namespace k8s.io)."""
    lines = stack.containerd.ctr("content", "ls", "-q").split()
    return set(lines)


def snapshots(stack: Stack) -> set[str]:
    """Snapshot keys of the overlayfs snapshotter (committed ones are named by chain ID)."""
    out = stack.containerd.ctr("snapshots", "ls").splitlines()[1:]
    return {line.split()[0] for line in out if line.strip()}


def distinct(marker: str, config: dict[str, object] | None = None) -> oci.OciImage:
    """busybox plus one small layer naming `marker`: distinct images sharing a base layer."""
    return oci.busybox_image(config=config, extra_files={"marker": marker.encode()})


# --- pulls and reference forms ----------------------------------------------------------


async def test_pull_by_tag_without_tag_and_every_reference_form(c: Cri, stack: Stack) -> None:
    assert await pull(c, "docker.io/library/busybox:latest") == BUSYBOX_ID
    assert await pull(c, "busybox") == BUSYBOX_ID  # no tag: `:latest`

    image = (await status(c, "busybox")).image
    assert image.id == BUSYBOX_ID
    assert list(image.repo_tags) == ["docker.io/library/busybox:latest"]
    assert list(image.repo_digests) == [f"docker.io/library/busybox@{BUSYBOX_DIGEST}"]
    forms = (
        "busybox",
        "busybox:latest",
        "library/busybox",
        "docker.io/library/busybox",
        "docker.io/library/busybox:latest",
        f"docker.io/library/busybox@{BUSYBOX_DIGEST}",
        f"busybox@{BUSYBOX_DIGEST}",
        BUSYBOX_ID,
        BUSYBOX_ID.removeprefix("sha256:"),
        BUSYBOX_ID.removeprefix("sha256:")[:12],
    )
    for form in forms:
        assert (await status(c, form)).image.id == BUSYBOX_ID, form
    assert not (await status(c, "busybox:other")).HasField("image")
    assert [i.id for i in await listed(c, "busybox")] == [BUSYBOX_ID]
    assert [i.id for i in await listed(c, BUSYBOX_ID)] == [BUSYBOX_ID]


async def test_pull_by_digest_sets_repo_digests(c: Cri, stack: Stack) -> None:
    image = distinct("by-digest")
    digest = stack.registry.push(image, "library/digested", None)  # by digest only: no tag
    ref = f"docker.io/library/digested@{digest}"
    assert await pull(c, ref) == image.config_digest
    got = (await status(c, ref)).image
    assert list(got.repo_digests) == [ref]
    assert list(got.repo_tags) == []
    direct = stack.registry.ref("library/digested", digest=digest)  # 127.0.0.1:port/...
    assert await pull(c, direct) == image.config_digest
    got = (await status(c, image.config_digest)).image
    assert set(got.repo_digests) == {ref, direct}


async def test_two_tags_are_one_image_and_distinct_images_are_three(c: Cri, stack: Stack) -> None:
    app, other = distinct("app"), distinct("other")
    stack.registry.push(app, "library/app", "v1")
    stack.registry.push(app, "library/app", "v2")
    stack.registry.push(other, "library/other", "latest")
    ids = [await pull(c, ref) for ref in ("app:v1", "app:v2", "other", "busybox")]
    assert ids == [app.config_digest, app.config_digest, other.config_digest, BUSYBOX_ID]

    images = {i.id: i for i in await listed(c)}
    assert set(images) == {app.config_digest, other.config_digest, BUSYBOX_ID}
    assert sorted(images[app.config_digest].repo_tags) == [
        "docker.io/library/app:v1",
        "docker.io/library/app:v2",
    ]
    assert list(images[app.config_digest].repo_digests) == [f"docker.io/library/app@{app.digest}"]
    assert [i.id for i in await listed(c, "app:v2")] == [app.config_digest]


async def test_multi_platform_index_pulls_linux_amd64(c: Cri, stack: Stack) -> None:
    index = oci.multiplatform_busybox()
    stack.registry.push(index, "library/multi", "latest")
    amd64 = index.child("linux", "amd64")
    assert await pull(c, "multi") == amd64.config_digest
    image = (await status(c, "multi")).image
    assert list(image.repo_digests) == [f"docker.io/library/multi@{index.digest}"]
    assert image.size == len(index.manifest_bytes) + amd64.size  # index, manifest, blobs
    stored = content(stack)
    assert {index.digest, amd64.digest, *amd64.blobs} <= stored
    for arch, variant in (("arm64", "v8"), ("arm", "v7"), ("s390x", "")):
        decoy = index.child("linux", arch, variant)
        assert not set(decoy.blobs) & stored, f"{arch} blobs were fetched"
    assert amd64.chain_id in snapshots(stack)


# --- status fields ----------------------------------------------------------------------


async def test_status_size_user_and_verbose_info(c: Cri, stack: Stack) -> None:
    numeric = distinct("numeric", {"User": "1234:5678", "Env": ["A=1"], "Cmd": ["sh"]})
    named = distinct("named", {"User": "nobody", "Cmd": ["sh"]})
    stack.registry.push(numeric, "library/numeric", "latest")
    stack.registry.push(named, "library/named", "latest")
    await pull(c, "numeric")
    await pull(c, "named")

    got = await status(c, "numeric", verbose=True)
    assert got.image.size == numeric.size
    assert got.image.HasField("uid") and got.image.uid.value == 1234
    assert got.image.username == ""
    assert got.image.spec.image == numeric.config_digest
    info = json.loads(got.info["info"])
    assert info["id"] == numeric.config_digest
    assert info["chainID"] == numeric.chain_id
    assert info["imageSpec"]["config"]["env"] == ["A=1"]
    assert info["imageSpec"]["config"]["user"] == "1234:5678"
    assert (await status(c, "numeric")).info == {}  # only when verbose

    got = await status(c, "named")
    assert not got.image.HasField("uid")
    assert got.image.username == "nobody"
    assert got.image.size == named.size


async def test_sandbox_image_is_pulled_by_the_first_pod_and_pinned(
    c: Cri, stack: Stack, tmp_path: Path
) -> None:
    assert not (await status(c, SANDBOX_IMAGE)).HasField("image")
    config = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name="pin", uid="uid-pin", namespace="e2e"),
        log_directory=str(tmp_path),
        linux=cri.LinuxPodSandboxConfig(cgroup_parent="/hexcri-e2e-pin"),
    )
    sid = (await c.runtime.RunPodSandbox(cri.RunPodSandboxRequest(config=config))).pod_sandbox_id
    try:
        pause = (await status(c, SANDBOX_IMAGE)).image
        assert pause.id == oci.pause_image().config_digest
        assert pause.pinned
        assert pause.HasField("uid") and pause.uid.value == 65535
        await pull(c, "busybox")
        assert not (await status(c, "busybox")).image.pinned
        pinned = {i.id: i.pinned for i in await listed(c)}
        assert pinned == {pause.id: True, BUSYBOX_ID: False}
    finally:
        await c.runtime.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sid))
        await c.runtime.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))


# --- removal ----------------------------------------------------------------------------


async def test_remove_by_tag_id_digest_and_absent(c: Cri, stack: Stack) -> None:
    app = distinct("rm")
    stack.registry.push(app, "library/rm", "v1")
    stack.registry.push(app, "library/rm", "v2")

    await pull(c, "rm:v1")
    await pull(c, "rm:v2")
    await remove(c, "rm:v1")  # by tag: the whole image goes, as with containerd's CRI
    assert not (await status(c, "rm:v2")).HasField("image")
    assert not (await status(c, app.config_digest)).HasField("image")

    await pull(c, "rm:v1")
    await pull(c, "rm:v2")
    await remove(c, app.config_digest)  # by ID: every tag
    for ref in ("rm:v1", "rm:v2", app.config_digest):
        assert not (await status(c, ref)).HasField("image"), ref
    assert await listed(c) == []

    await pull(c, "rm:v1")
    await remove(c, f"docker.io/library/rm@{app.digest}")  # by digest reference
    assert await listed(c) == []

    await remove(c, "rm:v1")  # already gone: NotFound is success
    await remove(c, "docker.io/library/never-pulled:1")
    await remove(c, "sha256:" + "0" * 64)
    names = stack.containerd.ctr("images", "ls", "-q").split()
    assert [n for n in names if "library/rm" in n] == []


async def test_removal_lets_containerd_reclaim_only_unshared_content(c: Cri, stack: Stack) -> None:
    gone, kept = distinct("gone"), distinct("kept")
    stack.registry.push(gone, "library/gone", "latest")
    stack.registry.push(kept, "library/kept", "latest")
    await pull(c, "gone")
    await pull(c, "kept")
    base_layer = oci.busybox_layer().digest
    base_chain = gone.diff_ids[0]
    assert {gone.digest, *gone.blobs, kept.digest, *kept.blobs} <= content(stack)
    assert {gone.chain_id, kept.chain_id, base_chain} <= snapshots(stack)

    await remove(c, gone.config_digest)

    stored, snaps = content(stack), snapshots(stack)
    unshared = {gone.digest, *gone.blobs} - {base_layer}
    assert not unshared & stored, f"left behind: {unshared & stored}"
    assert gone.chain_id not in snaps
    assert {kept.digest, *kept.blobs, base_layer} <= stored  # the shared base layer stays
    assert {kept.chain_id, base_chain} <= snaps
    assert (await status(c, "kept")).image.id == kept.config_digest

    await remove(c, "kept")
    assert not {kept.digest, *kept.blobs} & content(stack)
    assert not {kept.chain_id, base_chain} & snapshots(stack)


# --- the file system --------------------------------------------------------------------


async def test_image_fs_info_is_the_snapshotter(c: Cri, stack: Stack) -> None:
    await pull(c, "busybox")
    fss = (await c.images.ImageFsInfo(cri.ImageFsInfoRequest())).image_filesystems
    assert len(fss) == 1
    fs = fss[0]
    root = stack.containerd.root / "root" / "io.containerd.snapshotter.v1.overlayfs"
    assert fs.fs_id.mountpoint == str(root)
    assert fs.used_bytes.value > 0
    assert fs.inodes_used.value > 0
    assert fs.timestamp > 0


# --- credentials ------------------------------------------------------------------------


async def test_pull_with_basic_auth(c: Cri, stack: Stack) -> None:
    user, password = "kubelet", "pw-Zq81-never-logged"
    image = distinct("private")
    with running_registry(credentials=(user, password)) as private:
        private.push(image, "team/private", "v1")
        ref = private.ref("team/private", "v1")

        good = cri.AuthConfig(username=user, password=password)
        assert await pull(c, ref, good) == image.config_digest
        await remove(c, ref)
        encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
        assert await pull(c, ref, cri.AuthConfig(auth=encoded)) == image.config_digest
        await remove(c, ref)

        wrong = "pw-WRONG-also-secret"
        for auth in (cri.AuthConfig(username=user, password=wrong), None):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await pull(c, ref, auth)
            assert err.value.code() != grpc.StatusCode.OK
            details = err.value.details() or ""
            assert private.host in details and "credentials" in details, details
            assert wrong not in details
        assert await listed(c) == []
    log = stack.hexcri_log.read_text()
    assert password not in log
    assert wrong not in log
    assert encoded not in log


# --- bad input --------------------------------------------------------------------------


async def test_bad_references_and_missing_tags(c: Cri, stack: Stack) -> None:
    for bad in ("Not A Ref!!", "busybox:bad:tag", "busybox@sha256:short", " busybox"):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await pull(c, bad)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, bad

    for missing in ("busybox:no-such-tag", stack.registry.ref("nobody/home", "v1")):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await pull(c, missing)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND, missing
        assert missing.rsplit("/", 1)[-1] in (err.value.details() or ""), err.value.details()
    assert await listed(c) == []


async def test_corrupted_blob_fails_the_pull_and_lists_nothing(c: Cri, stack: Stack) -> None:
    image = distinct("tampered")
    stack.registry.push(image, "library/tampered", "latest")
    unique_layer = image.manifest["layers"][-1]["digest"]
    front = Front(stack.registry.url, FrontBehaviour(tamper={unique_layer})).start()
    try:
        ref = front.ref("library/tampered", "latest")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await pull(c, ref)
        assert unique_layer in (err.value.details() or ""), err.value.details()
        assert await listed(c) == []
        assert not (await status(c, ref)).HasField("image")
        assert unique_layer not in content(stack)
        assert image.chain_id not in snapshots(stack)

        front.behaviour.tamper.clear()  # the registry heals: the same pull now works
        assert await pull(c, ref) == image.config_digest
    finally:
        front.close()


async def test_concurrent_pulls_of_one_reference_return_one_id(c: Cri, stack: Stack) -> None:
    image = distinct("concurrent")
    stack.registry.push(image, "library/concurrent", "latest")
    ids = await asyncio.gather(*(pull(c, "concurrent") for _ in range(8)))
    assert set(ids) == {image.config_digest}
    assert [i.id for i in await listed(c)] == [image.config_digest]
    names = stack.containerd.ctr("images", "ls", "-q").split()
    assert sorted(n for n in names if "concurrent" in n) == [
        "docker.io/library/concurrent:latest",
        f"docker.io/library/concurrent@{image.digest}",
    ]
