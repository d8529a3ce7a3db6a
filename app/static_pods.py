"""Static pods in `hexcri serve`: the manifest adapter's reconciler as a background task."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from app.settings import Settings
from domain.services.usecases import UseCases

if TYPE_CHECKING:
    from adapters.manifest.convert import NodeFacts


def node_facts(settings: Settings) -> NodeFacts:
    """The node's facts for pod manifests (imported here: only a node with static pods
    loads the manifest adapter and yaml)."""
    from adapters.manifest.convert import NodeFacts
    from adapters.manifest.node import host_dns, memory_capacity

    return NodeFacts(
        memory_capacity=memory_capacity(),
        host_dns=host_dns(),
        log_root=settings.manifest_log_dir,
    )


def start(uses: UseCases, settings: Settings) -> asyncio.Task[None] | None:
    """The reconciler of `settings.manifest_dir`, or None when it is off."""
    if not settings.manifest_dir:
        return None
    from adapters.manifest.static import StaticPods

    pods = StaticPods(uses, settings.manifest_dir, node_facts(settings))
    return asyncio.create_task(pods.run(), name="static-pods")


async def stop(task: asyncio.Task[None] | None) -> None:
    """Stop reconciling; the pods keep running, as kubelet's do when it stops."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
