"""Image use cases on the memory fakes."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from adapters.memory.backend import MemoryBackend
from domain.errors import InvalidArgument, NotFound
from domain.model import Image, ImageConfig, chain_ids
from domain.services import image_pull, image_query, image_remove
from domain.services.context import Context


async def test_pull_status_list_remove(ctx: Context) -> None:
    image_id = await image_pull.pull_image(ctx, "busybox")
    for name in (
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox:latest",
        image_id,
        image_id[7:19],
    ):
        found = (
            image_query.image_status(ctx, name)
            if ":" in name or name.isalpha()
            else ctx.images.resolve(name)
        )
        assert found is not None and found.id == image_id, name
    image = image_query.image_status(ctx, "busybox")
    assert image is not None
    assert image.repo_tags == ("docker.io/library/busybox:latest",)
    digest_ref = image.repo_digests[0]
    assert image_query.image_status(ctx, digest_ref) is not None
    await image_remove.remove_image(ctx, digest_ref)
    assert image_query.image_status(ctx, "busybox") is None
    await image_remove.remove_image(ctx, "busybox")  # absent: success


async def test_two_tags_one_image(ctx: Context, backend: MemoryBackend) -> None:
    backend.registry.add("example.com/app:v1", ImageConfig(cmd=("run",)))
    backend.registry.add("example.com/app:stable", ImageConfig(cmd=("run",)))
    a = await image_pull.pull_image(ctx, "example.com/app:v1")
    b = await image_pull.pull_image(ctx, "example.com/app:stable")
    assert a == b
    images = image_query.list_images(ctx)
    mine = [i for i in images if i.id == a]
    assert len(mine) == 1
    assert set(mine[0].repo_tags) == {"example.com/app:v1", "example.com/app:stable"}
    assert [i.id for i in image_query.list_images(ctx, "example.com/app:v1")] == [a]


async def test_concurrent_pulls_share_one_download(ctx: Context, backend: MemoryBackend) -> None:
    ids = await asyncio.gather(*(image_pull.pull_image(ctx, "busybox") for _ in range(5)))
    assert len(set(ids)) == 1
    assert backend.images.pull_count == 1


async def test_bad_references(ctx: Context) -> None:
    with pytest.raises(InvalidArgument):
        await image_pull.pull_image(ctx, "Busybox")
    with pytest.raises(NotFound, match="nope"):
        await image_pull.pull_image(ctx, "nope")


async def test_sandbox_image_is_pinned(ctx: Context) -> None:
    await image_pull.pull_image(ctx, ctx.settings.sandbox_image)
    image = image_query.image_status(ctx, ctx.settings.sandbox_image)
    assert image is not None and image.pinned
    other = image_query.image_status(ctx, await image_pull.pull_image(ctx, "busybox"))
    assert other is not None and not other.pinned


def test_the_chain_id_is_the_oci_chain_id_of_the_top_layer() -> None:
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    top = "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()
    assert chain_ids([a, b]) == [a, top]
    assert Image(id="x", diff_ids=(a, b)).chain_id == top
    assert Image(id="x", diff_ids=(a,)).chain_id == a
    assert Image(id="x").chain_id == ""
