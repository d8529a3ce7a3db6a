"""Bad input: every malformed or impossible request gets a clear status and changes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri

from domain.ids import new_id
from domain.services import sandbox_run
from tests.unit.cri.conftest import Client, code_of, container_config, pod_config, snapshot

UNKNOWN = "0" * 64
IA = grpc.StatusCode.INVALID_ARGUMENT
NF = grpc.StatusCode.NOT_FOUND
AE = grpc.StatusCode.ALREADY_EXISTS
FP = grpc.StatusCode.FAILED_PRECONDITION


@dataclass
class World:
    c: Client
    ready: str  # a READY sandbox "web" ...
    stopped: str  # ... a NOTREADY sandbox "old", sharing the prefix "abc" with it
    created: str  # a CREATED container "c1" in "web"
    exited: str  # an EXITED container "c2" in "web"


@pytest.fixture
def ids(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Sandbox IDs with a shared prefix, for the ambiguous-prefix cases."""
    fixed = iter(["abc0" + "1" * 60, "abc1" + "2" * 60])
    monkeypatch.setattr(sandbox_run, "new_id", lambda: next(fixed, None) or new_id())
    yield


@pytest.fixture
async def world(client: Client, ids: None) -> World:
    rt = client.runtime
    web = pod_config("web", client.logs)
    ready = (await rt.RunPodSandbox(cri.RunPodSandboxRequest(config=web))).pod_sandbox_id
    old = pod_config("old", client.logs)
    stopped = (await rt.RunPodSandbox(cri.RunPodSandboxRequest(config=old))).pod_sandbox_id
    await rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=stopped))
    await client.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image="busybox")))

    async def create(name: str, command: list[str]) -> str:
        config = container_config(name, command)
        req = cri.CreateContainerRequest(pod_sandbox_id=ready, config=config)
        cid: str = (await rt.CreateContainer(req)).container_id
        return cid

    created = await create("c1", ["sleep", "600"])
    exited = await create("c2", ["true"])
    await rt.StartContainer(cri.StartContainerRequest(container_id=exited))
    for _ in range(100):
        st = await rt.ContainerStatus(cri.ContainerStatusRequest(container_id=exited))
        if st.status.state == cri.CONTAINER_EXITED:
            break
        await client.ctx.exits.wait(exited, 0.05)
    return World(client, ready, stopped, created, exited)


def with_config(**changes: Any) -> cri.ContainerConfig:
    config = container_config("new", ["true"])
    for key, value in changes.items():
        setattr(config, key, value) if not callable(value) else value(config)
    return config


def create(w: World, config: cri.ContainerConfig | None, sandbox: str | None = None) -> Any:
    request = cri.CreateContainerRequest(pod_sandbox_id=w.ready if sandbox is None else sandbox)
    if config is not None:
        request.config.CopyFrom(config)
    return w.c.runtime.CreateContainer(request)


def pod(**changes: Any) -> cri.PodSandboxConfig:
    config = pod_config("fresh")
    for key, value in changes.items():
        setattr(config.metadata, key, value)
    return config


def run(w: World, config: cri.PodSandboxConfig | None) -> Any:
    request = cri.RunPodSandboxRequest()
    if config is not None:
        request.config.CopyFrom(config)
    return w.c.runtime.RunPodSandbox(request)


def _negative_shares(c: cri.ContainerConfig) -> None:
    c.linux.resources.cpu_shares = -1


def _relative_mount(c: cri.ContainerConfig) -> None:
    c.mounts.append(cri.Mount(container_path="relative", host_path="/x"))


def _bad_namespace(c: cri.PodSandboxConfig) -> cri.PodSandboxConfig:
    c.linux.security_context.namespace_options.network = 9  # type: ignore[assignment]
    return c


def _bad_port(c: cri.PodSandboxConfig) -> cri.PodSandboxConfig:
    c.port_mappings.append(cri.PortMapping(container_port=70000))
    return c


def _no_metadata(c: cri.ContainerConfig) -> None:
    c.ClearField("metadata")


def _no_image(c: cri.ContainerConfig) -> None:
    c.ClearField("image")


def _empty_name(c: cri.ContainerConfig) -> None:
    c.metadata.name = ""


def _taken_name(c: cri.ContainerConfig) -> None:
    c.metadata.name = "c1"


def _absent_image(c: cri.ContainerConfig) -> None:
    c.image.image = "docker.io/library/nginx:latest"


def _bad_signal(c: cri.ContainerConfig) -> None:
    c.stop_signal = 999  # type: ignore[assignment]


Case = Callable[[World], Any]


def rt_(w: World) -> Any:
    return w.c.runtime


def im_(w: World) -> Any:
    return w.c.images


CASES: dict[str, tuple[Case, grpc.StatusCode]] = {
    # RunPodSandbox
    "run: no config": (lambda w: run(w, None), IA),
    "run: no metadata": (lambda w: run(w, cri.PodSandboxConfig(hostname="x")), IA),
    "run: empty name": (lambda w: run(w, pod(name="")), IA),
    "run: empty uid": (lambda w: run(w, pod(uid="")), IA),
    "run: empty namespace": (lambda w: run(w, pod(namespace="")), IA),
    "run: taken name": (lambda w: run(w, pod_config("web", w.c.logs)), AE),
    "run: bad namespace mode": (lambda w: run(w, _bad_namespace(pod())), IA),
    "run: bad port": (lambda w: run(w, _bad_port(pod())), IA),
    # CreateContainer
    "create: no config": (lambda w: create(w, None), IA),
    "create: no metadata": (lambda w: create(w, with_config(m=_no_metadata)), IA),
    "create: no image": (lambda w: create(w, with_config(m=_no_image)), IA),
    "create: empty name": (lambda w: create(w, with_config(m=_empty_name)), IA),
    "create: relative mount": (lambda w: create(w, with_config(m=_relative_mount)), IA),
    "create: negative shares": (lambda w: create(w, with_config(m=_negative_shares)), IA),
    "create: bad stop signal": (lambda w: create(w, with_config(m=_bad_signal)), IA),
    "create: unknown sandbox": (lambda w: create(w, with_config(), UNKNOWN), NF),
    "create: empty sandbox id": (lambda w: create(w, with_config(), ""), IA),
    "create: ambiguous sandbox": (lambda w: create(w, with_config(), "abc"), IA),
    "create: NOTREADY sandbox": (lambda w: create(w, with_config(), w.stopped), FP),
    "create: taken name": (lambda w: create(w, with_config(m=_taken_name)), AE),
    "create: image not pulled": (lambda w: create(w, with_config(m=_absent_image)), NF),
    # container calls
    "start: unknown": (
        lambda w: rt_(w).StartContainer(cri.StartContainerRequest(container_id=UNKNOWN)),
        NF,
    ),
    "start: empty id": (lambda w: rt_(w).StartContainer(cri.StartContainerRequest()), IA),
    "start: exited": (
        lambda w: rt_(w).StartContainer(cri.StartContainerRequest(container_id=w.exited)),
        FP,
    ),
    "status: unknown": (
        lambda w: rt_(w).ContainerStatus(cri.ContainerStatusRequest(container_id=UNKNOWN)),
        NF,
    ),
    "status: empty": (lambda w: rt_(w).ContainerStatus(cri.ContainerStatusRequest()), IA),
    "exec: empty cmd": (lambda w: rt_(w).ExecSync(cri.ExecSyncRequest(container_id=w.created)), IA),
    "exec: not running": (
        lambda w: rt_(w).ExecSync(cri.ExecSyncRequest(container_id=w.created, cmd=["true"])),
        FP,
    ),
    "exec: unknown": (
        lambda w: rt_(w).ExecSync(cri.ExecSyncRequest(container_id=UNKNOWN, cmd=["true"])),
        NF,
    ),
    "exec: negative timeout": (
        lambda w: rt_(w).ExecSync(
            cri.ExecSyncRequest(container_id=w.created, cmd=["true"], timeout=-1)
        ),
        IA,
    ),
    "update: negative": (
        lambda w: rt_(w).UpdateContainerResources(
            cri.UpdateContainerResourcesRequest(
                container_id=w.created, linux=cri.LinuxContainerResources(memory_limit_in_bytes=-5)
            )
        ),
        IA,
    ),
    "update: no resources": (
        lambda w: rt_(w).UpdateContainerResources(
            cri.UpdateContainerResourcesRequest(container_id=w.created)
        ),
        IA,
    ),
    "update: exited": (
        lambda w: rt_(w).UpdateContainerResources(
            cri.UpdateContainerResourcesRequest(
                container_id=w.exited, linux=cri.LinuxContainerResources(cpu_shares=2)
            )
        ),
        FP,
    ),
    "update: unknown": (
        lambda w: rt_(w).UpdateContainerResources(
            cri.UpdateContainerResourcesRequest(
                container_id=UNKNOWN, linux=cri.LinuxContainerResources()
            )
        ),
        NF,
    ),
    "reopen: not running": (
        lambda w: rt_(w).ReopenContainerLog(cri.ReopenContainerLogRequest(container_id=w.created)),
        FP,
    ),
    "stats: unknown": (
        lambda w: rt_(w).ContainerStats(cri.ContainerStatsRequest(container_id=UNKNOWN)),
        NF,
    ),
    # sandbox calls
    "pod status: unknown": (
        lambda w: rt_(w).PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=UNKNOWN)),
        NF,
    ),
    "pod status: ambiguous": (
        lambda w: rt_(w).PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id="abc")),
        IA,
    ),
    "pod stop: ambiguous": (
        lambda w: rt_(w).StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id="abc")),
        IA,
    ),
    "pod remove: ambiguous": (
        lambda w: rt_(w).RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id="abc")),
        IA,
    ),
    "pod stats: unknown": (
        lambda w: rt_(w).PodSandboxStats(cri.PodSandboxStatsRequest(pod_sandbox_id=UNKNOWN)),
        NF,
    ),
    "pod resources: unknown": (
        lambda w: rt_(w).UpdatePodSandboxResources(
            cri.UpdatePodSandboxResourcesRequest(pod_sandbox_id=UNKNOWN)
        ),
        NF,
    ),
    "pod resources: negative": (
        lambda w: rt_(w).UpdatePodSandboxResources(
            cri.UpdatePodSandboxResourcesRequest(
                pod_sandbox_id=w.ready, resources=cri.LinuxContainerResources(cpu_shares=-2)
            )
        ),
        IA,
    ),
    # list filters
    "list containers: empty selector key": (
        lambda w: rt_(w).ListContainers(
            cri.ListContainersRequest(filter=cri.ContainerFilter(label_selector={"": "x"}))
        ),
        IA,
    ),
    "list containers: padded selector key": (
        lambda w: rt_(w).ListContainers(
            cri.ListContainersRequest(filter=cri.ContainerFilter(label_selector={" app": "x"}))
        ),
        IA,
    ),
    "list containers: bad state": (
        lambda w: rt_(w).ListContainers(
            cri.ListContainersRequest(
                filter=cri.ContainerFilter(
                    state=cri.ContainerStateValue(state=7)  # type: ignore[arg-type]
                )
            )
        ),
        IA,
    ),
    "list pods: empty selector key": (
        lambda w: rt_(w).ListPodSandbox(
            cri.ListPodSandboxRequest(filter=cri.PodSandboxFilter(label_selector={"": ""}))
        ),
        IA,
    ),
    "list pods: bad state": (
        lambda w: rt_(w).ListPodSandbox(
            cri.ListPodSandboxRequest(
                filter=cri.PodSandboxFilter(
                    state=cri.PodSandboxStateValue(state=3)  # type: ignore[arg-type]
                )
            )
        ),
        IA,
    ),
    "list stats: empty selector key": (
        lambda w: rt_(w).ListContainerStats(
            cri.ListContainerStatsRequest(filter=cri.ContainerStatsFilter(label_selector={"": "x"}))
        ),
        IA,
    ),
    "list pod stats: empty selector key": (
        lambda w: rt_(w).ListPodSandboxStats(
            cri.ListPodSandboxStatsRequest(
                filter=cri.PodSandboxStatsFilter(label_selector={"": "x"})
            )
        ),
        IA,
    ),
    # runtime config
    "runtime config: bad CIDR": (
        lambda w: rt_(w).UpdateRuntimeConfig(
            cri.UpdateRuntimeConfigRequest(
                runtime_config=cri.RuntimeConfig(
                    network_config=cri.NetworkConfig(pod_cidr="10.0.0.0/99")
                )
            )
        ),
        IA,
    ),
    # images
    "pull: no image": (lambda w: im_(w).PullImage(cri.PullImageRequest()), IA),
    "pull: empty image": (
        lambda w: im_(w).PullImage(cri.PullImageRequest(image=cri.ImageSpec())),
        IA,
    ),
    "pull: malformed": (
        lambda w: im_(w).PullImage(cri.PullImageRequest(image=cri.ImageSpec(image="Not A Ref"))),
        IA,
    ),
    "pull: unknown": (
        lambda w: im_(w).PullImage(
            cri.PullImageRequest(image=cri.ImageSpec(image="example.com/none:1"))
        ),
        NF,
    ),
    "image status: no spec": (lambda w: im_(w).ImageStatus(cri.ImageStatusRequest()), IA),
    "image status: malformed": (
        lambda w: im_(w).ImageStatus(cri.ImageStatusRequest(image=cri.ImageSpec(image="a b"))),
        IA,
    ),
    "remove image: no spec": (lambda w: im_(w).RemoveImage(cri.RemoveImageRequest()), IA),
    "list images: malformed": (
        lambda w: im_(w).ListImages(
            cri.ListImagesRequest(filter=cri.ImageFilter(image=cri.ImageSpec(image="bad ref")))
        ),
        IA,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_bad_request_gets_a_clear_status_and_changes_nothing(world: World, case: str) -> None:
    call, expected = CASES[case]
    before = await snapshot(world.c)
    assert await code_of(call(world)) == expected
    assert await snapshot(world.c) == before


ALREADY_DONE: dict[str, Case] = {
    "stop container": lambda w: rt_(w).StopContainer(
        cri.StopContainerRequest(container_id=UNKNOWN, timeout=5)
    ),
    "remove container": lambda w: rt_(w).RemoveContainer(
        cri.RemoveContainerRequest(container_id=UNKNOWN)
    ),
    "stop pod": lambda w: rt_(w).StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=UNKNOWN)),
    "remove pod": lambda w: rt_(w).RemovePodSandbox(
        cri.RemovePodSandboxRequest(pod_sandbox_id=UNKNOWN)
    ),
}


@pytest.mark.parametrize("case", list(ALREADY_DONE))
async def test_stop_and_remove_of_an_unknown_id_succeed(world: World, case: str) -> None:
    """Kubelet retries stops and removes: an unknown ID is already stopped and removed."""
    before = await snapshot(world.c)
    await ALREADY_DONE[case](world)
    assert await snapshot(world.c) == before


async def test_taken_name_is_still_usable_after_the_failures(world: World) -> None:
    """The failed creates reserved nothing: the same names work once made valid."""
    rt = world.c.runtime
    assert await code_of(create(world, with_config(m=_absent_image))) == NF
    created = await create(world, with_config())
    assert len(created.container_id) == 64
    assert await code_of(run(world, pod(uid=""))) == IA
    sid = (await run(world, pod())).pod_sandbox_id
    assert (await rt.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=sid))).status.id
