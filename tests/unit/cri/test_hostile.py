"""Issue 11's hostile requests through the servicer on the fakes: each answers its code with
a message that names the field and does not echo a long value, and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri

from adapters.memory.backend import MemoryBackend
from domain.services.context import Context, Settings
from domain.spec.node import NodeOptions
from tests.support.hostile import CASES, MESSAGE_LIMIT, Case
from tests.unit.cri.conftest import Client, container_config, pod_config, serve, snapshot

NODE = NodeOptions(online_cpus="0-1", online_mems="0", hugepage_sizes=("2MB", "1GB"))


@dataclass
class World:
    c: Client
    pod: cri.PodSandboxConfig
    sandbox: str
    created: str


@pytest.fixture
async def world() -> AsyncIterator[World]:
    backend = MemoryBackend()
    ctx = Context(ports=backend.ports(), settings=Settings(node=NODE))
    async with serve(ctx, backend) as c:
        pod = pod_config("web", c.logs)
        sandbox = (
            await c.runtime.RunPodSandbox(cri.RunPodSandboxRequest(config=pod))
        ).pod_sandbox_id
        await c.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image="busybox")))
        request = cri.CreateContainerRequest(
            pod_sandbox_id=sandbox, config=container_config("c1", ["sleep", "60"])
        )
        created = (await c.runtime.CreateContainer(request)).container_id
        yield World(c, pod, sandbox, created)


async def send(w: World, case: Case) -> Any:
    """The hostile request of `case`, sent; returns the reply (when it is accepted)."""
    rt, images = w.c.runtime, w.c.images
    if case.kind in ("pod", "handler"):
        request = cri.RunPodSandboxRequest(config=pod_config("hostile", w.c.logs))
        case.change(request.config if case.kind == "pod" else request)
        return await rt.RunPodSandbox(request)
    if case.kind == "container":
        config = container_config("hostile", ["sleep", "60"])
        case.change(config)
        create = cri.CreateContainerRequest(
            pod_sandbox_id=w.sandbox, config=config, sandbox_config=w.pod
        )
        return await rt.CreateContainer(create)
    if case.kind == "update":
        resources = cri.LinuxContainerResources()
        case.change(resources)
        update = cri.UpdateContainerResourcesRequest(container_id=w.created, linux=resources)
        return await rt.UpdateContainerResources(update)
    if case.kind == "pull":
        pull = cri.PullImageRequest(image=cri.ImageSpec(image="busybox"))
        case.change(pull)
        return await images.PullImage(pull)
    status = cri.ContainerStatusRequest(container_id=w.created)
    case.change(status)
    return await rt.ContainerStatus(status)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_hostile_request_is_refused_clearly(world: World, case: Case) -> None:
    before = await snapshot(world.c)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await send(world, case)
    message = caught.value.details() or ""
    assert (caught.value.code(), case.fragment in message) == (case.code, True), message
    assert len(message) < MESSAGE_LIMIT
    assert await snapshot(world.c) == before
