"""Unit fixtures: the use cases on the memory fakes (a `Harness`), the exit watcher running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.memory.backend import MemoryBackend
from domain.model import ContainerConfig, ContainerMetadata, SandboxConfig, SandboxMetadata
from tests.support.harness import Harness


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend()


@pytest.fixture
async def ctx(backend: MemoryBackend) -> AsyncIterator[Harness]:
    context = Harness(ports=backend.ports())
    watcher = asyncio.create_task(context.task_exits.watch_runtime_events())
    await asyncio.sleep(0)
    yield context
    watcher.cancel()


def pod(
    name: str = "web", uid: str = "uid-1", namespace: str = "default", **kw: object
) -> SandboxConfig:
    return SandboxConfig(metadata=SandboxMetadata(name=name, uid=uid, namespace=namespace), **kw)  # type: ignore[arg-type]


def container(name: str = "app", image: str = "busybox", **kw: object) -> ContainerConfig:
    return ContainerConfig(metadata=ContainerMetadata(name=name), image=image, **kw)  # type: ignore[arg-type]


async def settle() -> None:
    """Let the fake processes and the exit watcher run."""
    for _ in range(5):
        await asyncio.sleep(0)
