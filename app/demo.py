"""`hexcri demo`: drive a running hexcri through its CRI socket as kubelet does, one pod."""

from __future__ import annotations

import asyncio
import os
import tempfile

import grpc
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc


async def run_pod(socket: str, image: str, command: list[str], timeout: float = 60.0) -> int:
    """Pull, run a pod with one container, print its log and status, clean up; exit code."""
    async with grpc.aio.insecure_channel(f"unix://{socket}") as channel:
        runtime = cri_grpc.RuntimeServiceStub(channel)  # type: ignore[no-untyped-call]
        images = cri_grpc.ImageServiceStub(channel)  # type: ignore[no-untyped-call]
        version = await runtime.Version(cri.VersionRequest(version="v1"))
        print(f"connected to {version.runtime_name} {version.runtime_version}")
        logs = tempfile.mkdtemp(prefix="hexcri-demo-")
        pod = cri.PodSandboxConfig(
            metadata=cri.PodSandboxMetadata(
                name="demo", uid=os.urandom(4).hex(), namespace="default"
            ),
            hostname="demo",
            log_directory=logs,
        )
        sandbox = (await runtime.RunPodSandbox(cri.RunPodSandboxRequest(config=pod))).pod_sandbox_id
        status = await runtime.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=sandbox))
        print(f"pod {sandbox[:13]} ready, ip {status.status.network.ip or '(host network)'}")
        pulled = await images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=image)))
        print(f"pulled {image} as {pulled.image_ref[:19]}")
        config = cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name="hello"),
            image=cri.ImageSpec(image=image),
            command=command,
            log_path="hello.log",
        )
        created = await runtime.CreateContainer(
            cri.CreateContainerRequest(pod_sandbox_id=sandbox, config=config, sandbox_config=pod)
        )
        cid = created.container_id
        await runtime.StartContainer(cri.StartContainerRequest(container_id=cid))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            st = (
                await runtime.ContainerStatus(cri.ContainerStatusRequest(container_id=cid))
            ).status
            if st.state == cri.CONTAINER_EXITED or loop.time() > deadline:
                break
            await asyncio.sleep(0.2)
        state = cri.ContainerState.Name(st.state)
        print(f"container {cid[:13]} {state} exit {st.exit_code} ({st.reason})")
        log = await asyncio.to_thread(_read, os.path.join(logs, "hello.log"))
        print("log:\n" + log, end="")
        await runtime.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sandbox))
        await runtime.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sandbox))
        print("pod stopped and removed")
        return 0 if st.state == cri.CONTAINER_EXITED and st.exit_code == 0 else 1


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def main(socket: str, image: str, command: list[str]) -> int:
    return asyncio.run(run_pod(socket, image, command))
