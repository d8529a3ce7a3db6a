"""Issue 11, item 5 through hexcri's CRI socket: ExecSync of a command that floods its output
(20 MB) answers OK with the output cut to what fits in a CRI message and the exit code, on
the containerd and the memory backends. The client takes messages of up to 16 MiB, as kubelet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from ports.runtime import EXEC_OUTPUT_LIMIT
from tests.e2e.conftest import Cri, Hexcri
from tests.support.stack import BUSYBOX, Stack

KUBELET_MAX_MESSAGE = 16 * 1024 * 1024
FLOOD = ["sh", "-c", "head -c 20000000 /dev/zero; echo done >&2; exit 3"]


async def connect(socket: str) -> AsyncIterator[Cri]:
    options = [("grpc.max_receive_message_length", KUBELET_MAX_MESSAGE)]
    async with grpc.aio.insecure_channel(f"unix://{socket}", options=options) as channel:
        yield Cri(cri_grpc.RuntimeServiceStub(channel), cri_grpc.ImageServiceStub(channel))


async def running(c: Cri, logs: Path) -> str:
    await c.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=BUSYBOX)))
    pod = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name="flood", uid="uid-flood", namespace="e2e"),
        log_directory=str(logs),
    )
    sid = (await c.runtime.RunPodSandbox(cri.RunPodSandboxRequest(config=pod))).pod_sandbox_id
    config = cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name="app"),
        image=cri.ImageSpec(image="busybox"),
        command=["sleep", "3600"],
    )
    request = cri.CreateContainerRequest(pod_sandbox_id=sid, config=config, sandbox_config=pod)
    cid = (await c.runtime.CreateContainer(request)).container_id
    await c.runtime.StartContainer(cri.StartContainerRequest(container_id=cid))
    return str(cid)


async def flood_reaches_the_client(c: Cri, cid: str) -> None:
    reply = await c.runtime.ExecSync(cri.ExecSyncRequest(container_id=cid, cmd=FLOOD, timeout=60))
    assert reply.exit_code == 3
    assert reply.stderr == b"done\n"
    assert len(reply.stdout) + len(reply.stderr) == EXEC_OUTPUT_LIMIT
    assert reply.stdout == bytes(len(reply.stdout))
    after = await c.runtime.ExecSync(cri.ExecSyncRequest(container_id=cid, cmd=["echo", "ok"]))
    assert (after.stdout, after.exit_code) == (b"ok\n", 0)


@pytest.mark.containerd
@pytest.mark.registry
@pytest.mark.cni
async def test_a_flood_of_exec_output_reaches_the_client_on_containerd(
    stack: Stack, tmp_path: Path
) -> None:
    async for c in connect(stack.socket):
        await flood_reaches_the_client(c, await running(c, tmp_path))


async def test_a_flood_of_exec_output_reaches_the_client_on_memory(
    hexcri_memory: Hexcri, tmp_path: Path
) -> None:
    async for c in connect(hexcri_memory.socket):
        await flood_reaches_the_client(c, await running(c, tmp_path))
