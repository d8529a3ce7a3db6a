"""Issue 13, item 2: RemoveContainer answers once the container is gone from the CRI's view;
the runtime container, snapshot and FIFOs are removed after it, in the background."""

from __future__ import annotations

import asyncio
import logging

import pytest

from adapters.memory.backend import MemoryBackend
from domain.errors import NotFound
from tests.support.harness import Harness
from tests.unit.conftest import container, pod


async def created(ctx: Harness) -> tuple[str, str]:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod(name="web", uid="uid-web"))
    await ctx.image_pull.pull_image("busybox")
    cid = await ctx.container_create.create_container(sid, container(name="app"))
    return sid, cid


def held_deletes(
    monkeypatch: pytest.MonkeyPatch, backend: MemoryBackend, release: asyncio.Event
) -> list[str]:
    """runtime.delete waits for `release`; returns the IDs in the order they were deleted."""
    deleted: list[str] = []
    real = backend.runtime.delete

    async def held(container_id: str) -> None:
        await release.wait()
        await real(container_id)
        deleted.append(container_id)

    monkeypatch.setattr(backend.runtime, "delete", held)
    return deleted


async def test_the_answer_comes_before_the_runtime_clean_up(
    ctx: Harness, backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, cid = await created(ctx)
    release = asyncio.Event()
    deleted = held_deletes(monkeypatch, backend, release)
    await asyncio.wait_for(ctx.container_remove.remove_container(cid), 5)
    with pytest.raises(NotFound):
        await ctx.container_query.container_status(cid)
    assert cid not in backend.state.containers
    assert backend.runtime.has(cid)  # not yet: the clean-up waits
    release.set()
    await asyncio.wait_for(ctx.cleanups.wait(), 5)
    assert deleted == [cid]
    assert not backend.runtime.has(cid)
    assert not backend.io.is_open(cid)
    assert len(ctx.cleanups) == 0


async def test_a_pod_removal_waits_for_its_containers_clean_up(
    ctx: Harness, backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pause container is deleted after the containers that shared its shim."""
    sid, cid = await created(ctx)
    release = asyncio.Event()
    deleted = held_deletes(monkeypatch, backend, release)
    await ctx.container_remove.remove_container(cid)
    removing = asyncio.ensure_future(ctx.sandbox_remove.remove_pod_sandbox(sid))
    for _ in range(10):
        await asyncio.sleep(0)
    assert not removing.done()
    release.set()
    await asyncio.wait_for(removing, 5)
    assert deleted == [cid, sid]


async def test_a_failed_clean_up_is_logged_and_forgotten(
    ctx: Harness,
    backend: MemoryBackend,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The container stays removed for the CRI; recovery's sweep removes what is left."""
    _, cid = await created(ctx)

    async def failing(container_id: str) -> None:
        raise OSError("containerd is gone")

    monkeypatch.setattr(backend.runtime, "delete", failing)
    with caplog.at_level(logging.WARNING, logger="domain.services.cleanup"):
        await ctx.container_remove.remove_container(cid)
        await asyncio.wait_for(ctx.cleanups.wait(), 5)
    assert ctx.containers.find(cid) is None
    assert len(ctx.cleanups) == 0
    assert f"clean-up of {cid} failed" in caplog.text
