"""Image use cases on the memory fakes."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from adapters.memory.backend import MemoryBackend
from domain.errors import InvalidArgument, NotFound
from domain.model import Image, ImageConfig, chain_ids
from tests.support.harness import Harness


async def test_pull_status_list_remove(ctx: Harness) -> None:
    image_id = await ctx.image_pull.pull_image("busybox")
    for name in (
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox:latest",
        image_id,
        image_id[7:19],
    ):
        found = (
            ctx.image_query.image_status(name)
            if ":" in name or name.isalpha()
            else ctx.images.resolve(name)
        )
        assert found is not None and found.id == image_id, name
    image = ctx.image_query.image_status("busybox")
    assert image is not None
    assert image.repo_tags == ("docker.io/library/busybox:latest",)
    digest_ref = image.repo_digests[0]
    assert ctx.image_query.image_status(digest_ref) is not None
    await ctx.image_remove.remove_image(digest_ref)
    assert ctx.image_query.image_status("busybox") is None
    await ctx.image_remove.remove_image("busybox")  # absent: success


async def test_two_tags_one_image(ctx: Harness, backend: MemoryBackend) -> None:
    backend.registry.add("example.com/app:v1", ImageConfig(cmd=("run",)))
    backend.registry.add("example.com/app:stable", ImageConfig(cmd=("run",)))
    a = await ctx.image_pull.pull_image("example.com/app:v1")
    b = await ctx.image_pull.pull_image("example.com/app:stable")
    assert a == b
    images = ctx.image_query.list_images()
    mine = [i for i in images if i.id == a]
    assert len(mine) == 1
    assert set(mine[0].repo_tags) == {"example.com/app:v1", "example.com/app:stable"}
    assert [i.id for i in ctx.image_query.list_images("example.com/app:v1")] == [a]


async def test_concurrent_pulls_share_one_download(ctx: Harness, backend: MemoryBackend) -> None:
    ids = await asyncio.gather(*(ctx.image_pull.pull_image("busybox") for _ in range(5)))
    assert len(set(ids)) == 1
    assert backend.images.pull_count == 1


async def test_bad_references(ctx: Harness) -> None:
    with pytest.raises(InvalidArgument):
        await ctx.image_pull.pull_image("Busybox")
    with pytest.raises(NotFound, match="nope"):
        await ctx.image_pull.pull_image("nope")


async def test_sandbox_image_is_pinned(ctx: Harness) -> None:
    await ctx.image_pull.pull_image(ctx.settings.sandbox_image)
    image = ctx.image_query.image_status(ctx.settings.sandbox_image)
    assert image is not None and image.pinned
    other = ctx.image_query.image_status(await ctx.image_pull.pull_image("busybox"))
    assert other is not None and not other.pinned


def test_the_chain_id_is_the_oci_chain_id_of_the_top_layer() -> None:
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    top = "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()
    assert chain_ids([a, b]) == [a, top]
    assert Image(id="x", diff_ids=(a, b)).chain_id == top
    assert Image(id="x", diff_ids=(a,)).chain_id == a
    assert Image(id="x").chain_id == ""
