"""The memory backend over the unix socket, driven as kubelet drives a runtime."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from tests.e2e.conftest import Cri, Hexcri, start_hexcri


def pod_config(name: str, logs: Path, **labels: str) -> cri.PodSandboxConfig:
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=name, uid=f"uid-{name}", namespace="e2e"),
        hostname=name,
        log_directory=str(logs),
        labels=labels,
    )


def container_config(name: str, command: list[str], **labels: str) -> cri.ContainerConfig:
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=name),
        image=cri.ImageSpec(image="busybox"),
        command=command,
        log_path=f"{name}.log",
        labels=labels,
    )


async def code_of(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call  # type: ignore[misc]
    return err.value.code()


async def wait_state(c: Cri, cid: str, state: int) -> cri.ContainerStatus:
    for _ in range(100):
        st = (await c.runtime.ContainerStatus(cri.ContainerStatusRequest(container_id=cid))).status
        if st.state == state:
            return st
        await asyncio.sleep(0.05)
    raise AssertionError(f"container {cid} never reached state {state}")


async def test_pod_with_two_containers_through_its_lifecycle(client: Cri, tmp_path: Path) -> None:
    rt, im = client.runtime, client.images
    version = await rt.Version(cri.VersionRequest())
    assert (version.runtime_name, version.runtime_api_version) == ("hexcri", "v1")
    status = await rt.Status(cri.StatusRequest())
    assert {c.type: c.status for c in status.status.conditions} == {
        "RuntimeReady": True,
        "NetworkReady": True,
    }

    config = pod_config("web", tmp_path, app="web")
    sid = (await rt.RunPodSandbox(cri.RunPodSandboxRequest(config=config))).pod_sandbox_id
    assert len(sid) == 64
    pulled = await im.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image="busybox")))
    assert pulled.image_ref.startswith("sha256:")

    server = await rt.CreateContainer(
        cri.CreateContainerRequest(
            pod_sandbox_id=sid, config=container_config("server", ["httpd"], tier="front"),
            sandbox_config=config,
        )
    )  # fmt: skip
    job = await rt.CreateContainer(
        cri.CreateContainerRequest(
            pod_sandbox_id=sid, config=container_config("job", ["sh", "-c", "echo done; exit 4"]),
            sandbox_config=config,
        )
    )  # fmt: skip
    for cid in (server.container_id, job.container_id):
        await rt.StartContainer(cri.StartContainerRequest(container_id=cid))

    finished = await wait_state(client, job.container_id, cri.CONTAINER_EXITED)
    assert (finished.exit_code, finished.reason) == (4, "Error")
    assert finished.log_path == str(tmp_path / "job.log")
    assert (tmp_path / "job.log").read_text().split(" ", 3)[1:] == ["stdout", "F", "done\n"]
    running = await wait_state(client, server.container_id, cri.CONTAINER_RUNNING)
    assert running.metadata.name == "server" and running.started_at > 0

    # prefix IDs, filters, label selectors
    short = await rt.ContainerStatus(cri.ContainerStatusRequest(container_id=job.container_id[:12]))
    assert short.status.id == job.container_id
    by_state = await rt.ListContainers(
        cri.ListContainersRequest(
            filter=cri.ContainerFilter(state=cri.ContainerStateValue(state=cri.CONTAINER_RUNNING))
        )
    )
    assert [c.id for c in by_state.containers] == [server.container_id]
    by_label = await rt.ListContainers(
        cri.ListContainersRequest(filter=cri.ContainerFilter(label_selector={"tier": "front"}))
    )
    assert [c.id for c in by_label.containers] == [server.container_id]
    pods = await rt.ListPodSandbox(
        cri.ListPodSandboxRequest(filter=cri.PodSandboxFilter(label_selector={"app": "web"}))
    )
    assert [p.id for p in pods.items] == [sid]
    assert pods.items[0].state == cri.SANDBOX_READY

    exec_result = await rt.ExecSync(
        cri.ExecSyncRequest(container_id=server.container_id, cmd=["echo", "hi"], timeout=5)
    )
    assert (exec_result.stdout, exec_result.exit_code) == (b"hi\n", 0)

    # a taken name, then the lifecycle's end
    assert (
        await code_of(
            rt.CreateContainer(
                cri.CreateContainerRequest(
                    pod_sandbox_id=sid,
                    config=container_config("job", ["true"]),
                    sandbox_config=config,
                )
            )
        )
        == grpc.StatusCode.ALREADY_EXISTS
    )
    await rt.StopContainer(cri.StopContainerRequest(container_id=server.container_id, timeout=2))
    stopped = await wait_state(client, server.container_id, cri.CONTAINER_EXITED)
    assert stopped.exit_code == 143
    await rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sid))
    sandbox = await rt.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=sid))
    assert sandbox.status.state == cri.SANDBOX_NOTREADY
    await rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))
    await rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))
    assert not (await rt.ListContainers(cri.ListContainersRequest())).containers
    assert not (await rt.ListPodSandbox(cri.ListPodSandboxRequest())).items


async def test_error_codes_and_no_state_change(client: Cri, tmp_path: Path) -> None:
    rt = client.runtime
    assert (
        await code_of(rt.RunPodSandbox(cri.RunPodSandboxRequest()))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    nameless = pod_config("", tmp_path)
    assert (
        await code_of(rt.RunPodSandbox(cri.RunPodSandboxRequest(config=nameless)))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    unknown = "0" * 64
    assert (
        await code_of(rt.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=unknown)))
        == grpc.StatusCode.NOT_FOUND
    )
    assert (
        await code_of(rt.ContainerStatus(cri.ContainerStatusRequest(container_id=unknown)))
        == grpc.StatusCode.NOT_FOUND
    )
    assert (
        await code_of(rt.StartContainer(cri.StartContainerRequest(container_id=unknown)))
        == grpc.StatusCode.NOT_FOUND
    )
    await rt.RemoveContainer(
        cri.RemoveContainerRequest(container_id=unknown)
    )  # NotFound is success

    config = pod_config("a", tmp_path)
    sid = (await rt.RunPodSandbox(cri.RunPodSandboxRequest(config=config))).pod_sandbox_id
    assert (
        await code_of(rt.RunPodSandbox(cri.RunPodSandboxRequest(config=config)))
        == grpc.StatusCode.ALREADY_EXISTS
    )
    missing_image = container_config("c", ["true"])
    missing_image.image.image = "docker.io/library/absent:1"
    assert (
        await code_of(
            rt.CreateContainer(cri.CreateContainerRequest(pod_sandbox_id=sid, config=missing_image))
        )
        == grpc.StatusCode.NOT_FOUND
    )
    await client.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image="busybox")))
    await rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sid))
    assert (
        await code_of(
            rt.CreateContainer(
                cri.CreateContainerRequest(
                    pod_sandbox_id=sid, config=container_config("c", ["true"])
                )
            )
        )
        == grpc.StatusCode.FAILED_PRECONDITION
    )
    assert not (await rt.ListContainers(cri.ListContainersRequest())).containers
    assert (
        await code_of(
            client.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image="Not A Ref")))
        )
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    absent = await client.images.ImageStatus(
        cri.ImageStatusRequest(image=cri.ImageSpec(image="nginx"))
    )
    assert not absent.HasField("image")


def test_sigterm_removes_the_socket(hexcri_memory: Hexcri) -> None:
    mode = os.stat(hexcri_memory.socket).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o660
    assert hexcri_memory.stop() == 0
    assert not os.path.exists(hexcri_memory.socket)


async def test_the_simulator_pulls_any_well_formed_reference(client: Cri, tmp_path: Path) -> None:
    """Tools pointed at the simulator use the images of their own specs."""
    ref = "registry.k8s.io/e2e-test-images/busybox:1.29-2"
    pulled = await client.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=ref)))
    status = await client.images.ImageStatus(cri.ImageStatusRequest(image=cri.ImageSpec(image=ref)))
    assert status.image.id == pulled.image_ref and ref in status.image.repo_tags
    other = await client.images.PullImage(
        cri.PullImageRequest(image=cri.ImageSpec(image="quay.io/some/app:2"))
    )
    assert other.image_ref != pulled.image_ref
    sid = (
        await client.runtime.RunPodSandbox(
            cri.RunPodSandboxRequest(config=pod_config("any", tmp_path))
        )
    ).pod_sandbox_id
    config = container_config("c", ["echo", "hi"])
    config.image.image = ref
    cid = (
        await client.runtime.CreateContainer(
            cri.CreateContainerRequest(pod_sandbox_id=sid, config=config)
        )
    ).container_id
    await client.runtime.StartContainer(cri.StartContainerRequest(container_id=cid))
    assert (await wait_state(client, cid, cri.CONTAINER_EXITED)).exit_code == 0


async def test_a_closed_catalogue_refuses_other_images(tmp_path: Path) -> None:
    server = start_hexcri(tmp_path, "memory", {"HEXCRI_SIMULATOR_IMAGES": '["busybox:1.36"]'})
    try:
        async with grpc.aio.insecure_channel(f"unix://{server.socket}") as channel:
            images = cri_grpc.ImageServiceStub(channel)  # type: ignore[no-untyped-call]
            spec = cri.ImageSpec(image="docker.io/library/busybox:1.36")
            await images.PullImage(cri.PullImageRequest(image=spec))
            absent = cri.ImageSpec(image="registry.k8s.io/e2e-test-images/busybox:1.29-2")
            assert (
                await code_of(images.PullImage(cri.PullImageRequest(image=absent)))
                == grpc.StatusCode.NOT_FOUND
            )
    finally:
        server.stop()
