"""The ImageStore and ImagePuller contract: the memory fake and containerd + a local registry.

A per-backend `Driver` publishes images where its puller finds them (the fake registry, or
`docker-registry` on 127.0.0.1) and says which IDs and digests they have; the tests then
speak only the ports. The containerd side works in a namespace of its own per test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from adapters.memory.clock import FakeClock
from adapters.memory.images import MemoryImageStore, MemoryRegistry
from domain.errors import NotFound
from domain.ids import new_id
from domain.model import Image, ImageConfig
from domain.reference import parse
from ports.images import ImagePuller, ImageStore


@dataclass(frozen=True)
class Published:
    """An image a registry serves: its repository, tag, ID and manifest digest."""

    repository: str
    tag: str
    id: str
    digest: str

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def digest_ref(self) -> str:
        return f"{self.repository}@{self.digest}"


class Driver:
    store: ImageStore
    puller: ImagePuller
    host: str

    def publish(self, repository: str, tag: str, label: str) -> Published:
        """Serve an image labelled `contract=label` as `<host>/repository:tag`."""
        raise NotImplementedError

    async def close(self) -> None:
        for image in await self.store.list():
            await self.store.remove(image)


class MemoryDriver(Driver):
    host = "registry.contract.test"

    def __init__(self) -> None:
        self.registry = MemoryRegistry(images={})
        fake = MemoryImageStore(self.registry, FakeClock())
        self.store, self.puller = fake, fake

    def publish(self, repository: str, tag: str, label: str) -> Published:
        ref = f"{self.host}/{repository}:{tag}"
        self.registry.add(ref, ImageConfig(cmd=("sh",), labels={"contract": label}))
        _, image_id, digest = self.registry.resolve(parse(ref))
        return Published(f"{self.host}/{repository}", tag, image_id, digest)


class ContainerdDriver(Driver):
    def __init__(self, request: pytest.FixtureRequest) -> None:
        from adapters.containerd.client import ContainerdClient
        from adapters.containerd.images import ContainerdImageStore
        from adapters.containerd.pull import ContainerdImagePuller
        from adapters.registry import RegistryClient

        containerd = request.getfixturevalue("containerd")
        self.registry = request.getfixturevalue("registry")
        self.host = self.registry.host
        self.client = ContainerdClient(containerd.address, f"hexcri-contract-{new_id()[:8]}")
        self.registry_client = RegistryClient(retries=1, backoff=0.01)
        self.store = ContainerdImageStore(self.client)
        self.puller = ContainerdImagePuller(self.client, self.registry_client)

    def publish(self, repository: str, tag: str, label: str) -> Published:
        from tests.support import oci

        image = oci.busybox_image(config={"Cmd": ["sh"], "Labels": {"contract": label}})
        digest = self.registry.push(image, repository, tag)
        return Published(f"{self.host}/{repository}", tag, image.config_digest, digest)

    async def close(self) -> None:
        await super().close()
        await self.registry_client.close()
        await self.client.close()


@pytest.fixture(
    params=[
        "memory",
        pytest.param("containerd", marks=[pytest.mark.containerd, pytest.mark.registry]),
    ]
)
async def driver(request: pytest.FixtureRequest) -> AsyncIterator[Driver]:
    made = MemoryDriver() if request.param == "memory" else ContainerdDriver(request)
    try:
        yield made
    finally:
        await made.close()


def repository() -> str:
    return f"contract/img-{new_id()[:8]}"


async def pull(driver: Driver, ref: str) -> Image:
    return await driver.puller.pull(parse(ref), None)


async def test_pull_returns_the_image_named_by_the_reference(driver: Driver) -> None:
    image = driver.publish(repository(), "v1", "first")
    pulled = await pull(driver, image.ref)
    assert pulled.id == image.id
    assert pulled.repo_tags == (image.ref,)
    assert pulled.repo_digests == (image.digest_ref,)
    assert pulled.config.cmd == ("sh",) and pulled.config.labels == {"contract": "first"}
    assert pulled.size > 0 and pulled.chain_id


async def test_progress_is_seen_while_a_pull_runs_and_not_after(driver: Driver) -> None:
    image = driver.publish(repository(), "v1", "progress")
    ref = parse(image.ref)
    assert driver.puller.progress(ref) is None
    pulling = asyncio.create_task(driver.puller.pull(ref, None))
    seen = []
    while not pulling.done():
        if (now := driver.puller.progress(ref)) is not None:
            seen.append(now)
        await asyncio.sleep(0)
    pulled = await pulling
    assert seen and all(p.done <= p.total for p in seen)
    assert max(p.total for p in seen) > 0
    assert driver.puller.progress(ref) is None and pulled.id == image.id


async def test_list_shows_what_was_pulled(driver: Driver) -> None:
    image = driver.publish(repository(), "v1", "listed")
    pulled = await pull(driver, image.ref)
    assert await driver.store.list() == [pulled]
    assert await pull(driver, image.ref) == pulled  # again: the same image
    assert await driver.store.list() == [pulled]


async def test_pull_by_digest_names_no_tag(driver: Driver) -> None:
    image = driver.publish(repository(), "v1", "by-digest")
    pulled = await pull(driver, image.digest_ref)
    assert (pulled.id, pulled.repo_tags, pulled.repo_digests) == (
        image.id,
        (),
        (image.digest_ref,),
    )
    [listed] = await driver.store.list()
    assert (listed.repo_tags, listed.repo_digests) == ((), (image.digest_ref,))


async def test_two_tags_of_one_image(driver: Driver) -> None:
    repo = repository()
    one = driver.publish(repo, "one", "same")
    two = driver.publish(repo, "two", "same")
    assert one.id == two.id
    await pull(driver, one.ref)
    pulled = await pull(driver, two.ref)
    assert pulled.repo_tags == (two.ref,)  # the names of this pull
    [listed] = await driver.store.list()
    assert listed.id == one.id
    assert sorted(listed.repo_tags) == sorted([one.ref, two.ref])
    assert listed.repo_digests == (one.digest_ref,)


async def test_a_tag_moves_to_the_image_pulled_last(driver: Driver) -> None:
    repo = repository()
    old = driver.publish(repo, "v1", "old")
    await pull(driver, old.ref)
    new = driver.publish(repo, "v1", "new")
    await pull(driver, new.ref)
    listed = {i.id: i for i in await driver.store.list()}
    assert set(listed) == {old.id, new.id}
    assert (listed[new.id].repo_tags, listed[new.id].repo_digests) == (
        (new.ref,),
        (new.digest_ref,),
    )
    assert (listed[old.id].repo_tags, listed[old.id].repo_digests) == ((), (old.digest_ref,))


async def test_unknown_reference_is_not_found(driver: Driver) -> None:
    image = driver.publish(repository(), "v1", "known")
    with pytest.raises(NotFound):
        await pull(driver, f"{image.repository}:no-such-tag")
    with pytest.raises(NotFound):
        await pull(driver, f"{driver.host}/{repository()}:v1")
    assert await driver.store.list() == []


async def test_remove_forgets_the_image_and_its_names(driver: Driver) -> None:
    repo = repository()
    a = driver.publish(repo, "a", "removed")
    also_a = driver.publish(repo, "also-a", "removed")
    b = driver.publish(repo, "b", "kept")
    await pull(driver, a.ref)
    await pull(driver, also_a.ref)
    kept = await pull(driver, b.ref)
    [gone] = [i for i in await driver.store.list() if i.id == a.id]
    await driver.store.remove(gone)
    assert await driver.store.list() == [kept]
    await driver.store.remove(gone)  # idempotent
    assert await driver.store.list() == [kept]
    again = await pull(driver, also_a.ref)  # and it can be pulled again
    assert again.id == a.id and again.repo_tags == (also_a.ref,)


async def test_fs_info_counts_the_images(driver: Driver) -> None:
    await pull(driver, driver.publish(repository(), "v1", "usage").ref)
    [usage] = await driver.store.fs_info()
    assert usage.mountpoint and usage.timestamp > 0
    assert usage.used_bytes > 0 and usage.inodes_used > 0
