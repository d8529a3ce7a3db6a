"""Issue 11's hostile requests through the servicer on the fakes: each answers its code with
a message that names the field and does not echo a long value, and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cri_api.v1 import api_pb2 as cri

from adapters.memory.backend import MemoryBackend
from domain.services.context import Settings
from domain.spec.node import NodeOptions
from tests.support.harness import Harness
from tests.support.hostile import CASES, MESSAGE_LIMIT, Case, Target, refusal
from tests.unit.cri.conftest import Client, container_config, pod_config, serve, snapshot

NODE = NodeOptions(online_cpus="0-1", online_mems="0", hugepage_sizes=("2MB", "1GB"))


@pytest.fixture
async def world() -> AsyncIterator[tuple[Client, Target]]:
    backend = MemoryBackend()
    ctx = Harness(ports=backend.ports(), settings=Settings(node=NODE))
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
        yield c, Target(c.runtime, c.images, pod, sandbox, created, c.logs)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_hostile_request_is_refused_clearly(world: tuple[Client, Target], case: Case) -> None:
    client, target = world
    before = await snapshot(client)
    code, message = await refusal(target, case)
    assert (code, case.fragment in message) == (case.code, True), message
    assert len(message) < MESSAGE_LIMIT
    assert await snapshot(client) == before
