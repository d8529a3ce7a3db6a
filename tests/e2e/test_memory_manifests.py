"""Static pods in `hexcri serve --backend memory`: the manifest_dir's pods appear on the CRI
socket with kubelet's labels, and a removed file removes them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from tests.e2e.conftest import start_hexcri

EXAMPLE = Path(__file__).parents[2] / "examples" / "web-pod.yaml"


async def wait_for(predicate, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_manifest_dir_pods_on_the_socket(tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "web.yaml").write_text(EXAMPLE.read_text())
    env = {
        "HEXCRI_MANIFEST_DIR": str(manifests),
        "HEXCRI_MANIFEST_LOG_DIR": str(tmp_path / "logs"),
    }
    server = start_hexcri(tmp_path, "memory", env)
    try:
        async with grpc.aio.insecure_channel(f"unix://{server.socket}") as channel:
            runtime = cri_grpc.RuntimeServiceStub(channel)  # type: ignore[no-untyped-call]

            async def httpd_running() -> bool:
                selector = {"io.kubernetes.container.name": "httpd"}
                request = cri.ListContainersRequest(
                    filter=cri.ContainerFilter(label_selector=selector)
                )
                found = (await runtime.ListContainers(request)).containers
                return any(c.state == cri.CONTAINER_RUNNING for c in found)

            await wait_for(httpd_running)
            pods = (await runtime.ListPodSandbox(cri.ListPodSandboxRequest())).items
            assert [p.labels["io.kubernetes.pod.name"] for p in pods] == ["web"]
            assert pods[0].annotations["kubernetes.io/config.source"] == "file"

            (manifests / "web.yaml").unlink()

            async def no_pods() -> bool:
                return not (await runtime.ListPodSandbox(cri.ListPodSandboxRequest())).items

            await wait_for(no_pods)
    finally:
        assert server.stop() == 0
