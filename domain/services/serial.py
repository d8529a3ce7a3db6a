"""Holding the locks of one container's operation: its sandbox's (shared), then its own."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from domain.model import Container
from domain.services.locks import ObjectLocks
from domain.store import ContainerStore


@contextlib.asynccontextmanager
async def holding(
    locks: ObjectLocks, containers: ContainerStore, container: Container
) -> AsyncIterator[Container | None]:
    """Hold the sandbox's lock shared and the container's alone; yields the container as it
    is once both are held, None when an operation that held them first removed it."""
    async with locks.shared(container.sandbox_id), locks.exclusive(container.id):
        yield containers.lookup(container.id)


@contextlib.asynccontextmanager
async def holding_in_sandbox(
    locks: ObjectLocks, containers: ContainerStore, container_id: str
) -> AsyncIterator[Container | None]:
    """For a sandbox operation that holds the sandbox's lock already: the container's."""
    async with locks.exclusive(container_id):
        yield containers.lookup(container_id)
