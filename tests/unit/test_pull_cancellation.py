"""Issue 11, item 4 in the domain: a pull shared by several clients goes on while one of them
still waits, and is cancelled (so that it cleans up) once every one has gone."""

from __future__ import annotations

import asyncio

import pytest

from adapters.memory.backend import MemoryBackend
from domain.errors import NotFound
from domain.model import AuthConfig, Image
from domain.reference import Reference
from domain.sharing import SharedWork
from tests.support.harness import Harness
from tests.unit.conftest import settle


class GatedPull:
    """Stands in for the puller: each pull waits for `release`, and records how it ended."""

    def __init__(self, backend: MemoryBackend) -> None:
        self.real = backend.images.pull
        self.release = asyncio.Event()
        self.started = 0
        self.cancelled = 0

    async def __call__(self, reference: Reference, auth: AuthConfig | None) -> Image:
        self.started += 1
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return await self.real(reference, auth)


@pytest.fixture
def gated(backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch) -> GatedPull:
    gate = GatedPull(backend)
    monkeypatch.setattr(backend.images, "pull", gate)
    return gate


async def test_one_client_going_leaves_the_shared_pull_to_the_other(
    ctx: Harness, gated: GatedPull
) -> None:
    leaving = asyncio.ensure_future(ctx.image_pull.pull_image("busybox"))
    staying = asyncio.ensure_future(ctx.image_pull.pull_image("busybox"))
    await settle()
    leaving.cancel()
    await settle()
    assert gated.cancelled == 0
    gated.release.set()
    image_id = await staying
    assert ctx.images.resolve("busybox") is not None
    assert ctx.images.resolve("busybox").id == image_id  # type: ignore[union-attr]
    assert gated.started == 1 and leaving.cancelled()
    assert "docker.io/library/busybox:latest" not in ctx.pulls


async def test_the_pull_is_cancelled_when_every_client_has_gone(
    ctx: Harness, gated: GatedPull
) -> None:
    clients = [asyncio.ensure_future(ctx.image_pull.pull_image("busybox")) for _ in range(3)]
    await settle()
    for client in clients:
        client.cancel()
    await settle()
    assert gated.started == 1 and gated.cancelled == 1
    assert len(ctx.pulls) == 0
    assert ctx.images.resolve("busybox") is None


async def test_a_client_after_a_cancelled_pull_starts_a_new_one(
    ctx: Harness, gated: GatedPull
) -> None:
    first = asyncio.ensure_future(ctx.image_pull.pull_image("busybox"))
    await settle()
    first.cancel()
    second = asyncio.ensure_future(ctx.image_pull.pull_image("busybox"))
    await settle()
    gated.release.set()
    assert await second
    assert gated.started == 2 and gated.cancelled == 1


async def test_a_failure_reaches_every_client(ctx: Harness) -> None:
    outcomes = await asyncio.gather(
        *(ctx.image_pull.pull_image("example.com/absent:1") for _ in range(3)),
        return_exceptions=True,
    )
    assert all(isinstance(o, NotFound) for o in outcomes), outcomes
    assert len(ctx.pulls) == 0


async def test_shared_work_is_cancelled_only_by_its_last_waiter() -> None:
    work: SharedWork[int] = SharedWork()
    release = asyncio.Event()
    ended: list[str] = []

    async def job() -> int:
        try:
            await release.wait()
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise
        ended.append("done")
        return 7

    a = asyncio.ensure_future(work.run("k", job))
    b = asyncio.ensure_future(work.run("k", job))
    await settle()
    a.cancel()
    await settle()
    assert ended == [] and "k" in work
    b.cancel()
    await settle()
    assert ended == ["cancelled"] and len(work) == 0
    c = asyncio.ensure_future(work.run("k", job))
    await settle()
    release.set()
    assert await c == 7
    assert ended == ["cancelled", "done"] and len(work) == 0
