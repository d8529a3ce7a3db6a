"""List answers come from cached messages that follow every change."""

from __future__ import annotations

from cri_api.v1 import api_pb2 as cri

from adapters.cri.listing import MessageCache
from adapters.cri.servicer import RuntimeServicer
from adapters.memory.backend import MemoryBackend
from tests.support.harness import Harness
from tests.unit.conftest import container, pod, settle


def test_cache_rebuilds_on_a_new_key_and_prunes() -> None:
    cache: MessageCache[list[int]] = MessageCache()
    first = cache.get("a", 1, lambda: [1])
    assert cache.get("a", 1, lambda: [2]) is first
    assert cache.get("a", 2, lambda: [3]) == [3]
    for i in range(100):
        cache.get(str(i), 0, list)
    cache.prune(1)
    assert cache.get("a", 2, lambda: [4]) == [4]


async def test_listings_follow_state_changes(ctx: Harness, backend: MemoryBackend) -> None:
    servicer = RuntimeServicer(ctx.uses)
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    await ctx.image_pull.pull_image("busybox")
    cid = await ctx.container_create.create_container(sid, container(command=("server",)))

    async def states() -> tuple[list[int], list[int]]:
        pods = await servicer.ListPodSandbox(cri.ListPodSandboxRequest(), None)  # type: ignore[arg-type]
        ctrs = await servicer.ListContainers(cri.ListContainersRequest(), None)  # type: ignore[arg-type]
        return [p.state for p in pods.items], [c.state for c in ctrs.containers]

    assert await states() == ([cri.SANDBOX_READY], [cri.CONTAINER_CREATED])
    await ctx.container_start.start_container(cid)
    assert await states() == ([cri.SANDBOX_READY], [cri.CONTAINER_RUNNING])
    backend.runtime.exit_container(cid, 0)
    await settle()
    assert await states() == ([cri.SANDBOX_READY], [cri.CONTAINER_EXITED])
    await ctx.sandbox_stop.stop_pod_sandbox(sid)
    assert await states() == ([cri.SANDBOX_NOTREADY], [cri.CONTAINER_EXITED])
