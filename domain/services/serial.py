"""Holding the locks of one container's operation: its sandbox's (shared), then its own."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from domain.model import Container
from domain.services.context import Context


@contextlib.asynccontextmanager
async def holding(ctx: Context, container: Container) -> AsyncIterator[Container | None]:
    """Hold the sandbox's lock shared and the container's alone; yields the container as it
    is once both are held, None when an operation that held them first removed it."""
    async with ctx.locks.shared(container.sandbox_id), ctx.locks.exclusive(container.id):
        yield ctx.containers.lookup(container.id)


@contextlib.asynccontextmanager
async def holding_in_sandbox(ctx: Context, container_id: str) -> AsyncIterator[Container | None]:
    """For a sandbox operation that holds the sandbox's lock already: the container's."""
    async with ctx.locks.exclusive(container_id):
        yield ctx.containers.lookup(container_id)
