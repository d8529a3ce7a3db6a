"""The helpers the cri-tools specs lean on (`pkg/framework`, and the small functions beside the
specs in `pkg/validate`), re-expressed in Python over a synchronous CRI client.

An `Endpoint` is one CRI server (hexcri, or containerd's own CRI plugin) reached only through
its unix socket. Names and defaults follow upstream's: pods are `<prefix><uuid>` in namespace
`cri-test-namespace<uuid>`, attempt 2, and containers use the e2e busybox image.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

T = TypeVar("T")

DEFAULT_UID_PREFIX = "cri-test-uid"
DEFAULT_NAMESPACE_PREFIX = "cri-test-namespace"
DEFAULT_ATTEMPT = 2
E2E_PREFIX = "registry.k8s.io/e2e-test-images/"
DEFAULT_CONTAINER_IMAGE = E2E_PREFIX + "busybox:1.29-2"
WEB_SERVER_IMAGE = E2E_PREFIX + "nginx:1.14-2"
HTTPD_IMAGE = E2E_PREFIX + "httpd:2.4.39-4"
DEFAULT_CONTAINER_COMMAND = ["top"]
DEFAULT_PAUSE_COMMAND = ["sh", "-c", "top"]
# upstream's systemd test slice, renamed so the stack's teardown removes it (a cgroupfs dir here)
TEST_CGROUP_SLICE = "/hexcri-e2e-conformance.slice"

# consts.go (Linux)
DEFAULT_LOG = "hello World"
ECHO_HELLO_CMD = ["echo", "-n", "hello"]
ECHO_HELLO_OUTPUT = "hello"
SLEEP_CMD = ["sleep", "4321"]
CHECK_SLEEP_CMD = ["sh", "-c", "pgrep sleep || true"]
SHELL_CMD = ["/bin/sh"]
LOG_DEFAULT_CMD = ["echo", DEFAULT_LOG]
LOOP_LOG_DEFAULT_CMD = ["sh", "-c", f"while true; do echo {DEFAULT_LOG}; sleep 1; done"]

RPC_TIMEOUT = 30.0  # seconds, for every call but pulls
PULL_TIMEOUT = 60.0
EXEC_SYNC_TIMEOUT = 30  # defaultExecSyncTimeout
STOP_TIMEOUT = 60  # defaultStopContainerTimeout (top exits on SIGTERM at once)

# the waits of the specs, as upstream spells them: `Eventually(…, time.Minute, time.Second*4)`
# on a container's state, `Eventually(…, time.Minute, time.Second)` on logs and web pages
MINUTE = 60.0
STATE_POLL = 4.0
SECOND = 1.0


@dataclass
class Endpoint:
    """One CRI server and the image IDs the suite keeps on it between tests."""

    name: str
    socket: str
    log: Path
    channel: grpc.Channel
    runtime: cri_grpc.RuntimeServiceStub
    images: cri_grpc.ImageServiceStub
    baseline: set[str] = field(default_factory=set)

    @classmethod
    def connect(cls, name: str, socket: str, log: Path) -> Endpoint:
        channel = grpc.insecure_channel(f"unix://{socket}")
        return cls(
            name=name,
            socket=socket,
            log=log,
            channel=channel,
            runtime=cri_grpc.RuntimeServiceStub(channel),
            images=cri_grpc.ImageServiceStub(channel),
        )

    def close(self) -> None:
        self.channel.close()


def new_uuid() -> str:
    return str(uuid.uuid4())


def eventually(
    probe: Callable[[], T], done: Callable[[T], bool], timeout: float, interval: float
) -> T:
    """Gomega's `Eventually(probe, timeout, interval).Should(done)`: `probe` at once, then
    every `interval`; the first result that is `done`, or AssertionError at `timeout`. An
    exception of `probe` ends the wait at once, as a failed assertion inside Gomega's polled
    function does (`parseLogLine` of a log file that is not there fails the spec: it is not
    retried)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        time.sleep(interval)


def consistently(
    probe: Callable[[], T], hold: Callable[[T], bool], duration: float, interval: float
) -> None:
    """Gomega's `Consistently(probe, duration, interval).Should(hold)`: `probe` at once, then
    every `interval` for `duration`; every result must `hold`."""
    deadline = time.monotonic() + duration
    while True:
        value = probe()
        assert hold(value), f"condition broken: {value!r}"
        if time.monotonic() + interval > deadline:
            return
        time.sleep(interval)


# --- pods -------------------------------------------------------------------------------------


def cgroup_parent(c: Endpoint) -> str:
    """common.GetCgroupParent: none for a cgroupfs runtime, else the test slice (also when the
    runtime does not answer RuntimeConfig)."""
    try:
        config = c.runtime.RuntimeConfig(cri.RuntimeConfigRequest(), timeout=RPC_TIMEOUT)
    except grpc.RpcError:
        return TEST_CGROUP_SLICE
    if config.HasField("linux") and config.linux.cgroup_driver == cri.CGROUPFS:
        return ""
    return TEST_CGROUP_SLICE


def pod_metadata(name: str) -> cri.PodSandboxMetadata:
    return cri.PodSandboxMetadata(
        name=name,
        uid=DEFAULT_UID_PREFIX + new_uuid(),
        namespace=DEFAULT_NAMESPACE_PREFIX + new_uuid(),
        attempt=DEFAULT_ATTEMPT,
    )


def pod_config(c: Endpoint, prefix: str, **fields: object) -> cri.PodSandboxConfig:
    """A pod named `<prefix><uuid>` with the test cgroup parent; `fields` are set on top
    (`linux` merges into the Linux config)."""
    linux = fields.pop("linux", None)
    config = cri.PodSandboxConfig(
        metadata=pod_metadata(prefix + new_uuid()),
        linux=cri.LinuxPodSandboxConfig(cgroup_parent=cgroup_parent(c)),
        **fields,  # type: ignore[arg-type]
    )
    if linux is not None:
        config.linux.MergeFrom(linux)  # type: ignore[arg-type]
    return config


def run_pod_sandbox(c: Endpoint, config: cri.PodSandboxConfig) -> str:
    reply = c.runtime.RunPodSandbox(cri.RunPodSandboxRequest(config=config), timeout=RPC_TIMEOUT)
    return str(reply.pod_sandbox_id)


def run_default_pod_sandbox(c: Endpoint, prefix: str) -> str:
    return run_pod_sandbox(c, pod_config(c, prefix))


def create_pod_sandbox_for_container(c: Endpoint) -> tuple[str, cri.PodSandboxConfig]:
    config = pod_config(c, "create-PodSandbox-for-container-")
    return run_pod_sandbox(c, config), config


def pod_sandbox_status(c: Endpoint, pod_id: str) -> cri.PodSandboxStatus:
    request = cri.PodSandboxStatusRequest(pod_sandbox_id=pod_id)
    return c.runtime.PodSandboxStatus(request, timeout=RPC_TIMEOUT).status


def list_pod_sandbox(c: Endpoint, flt: cri.PodSandboxFilter | None = None) -> list[cri.PodSandbox]:
    reply = c.runtime.ListPodSandbox(cri.ListPodSandboxRequest(filter=flt), timeout=RPC_TIMEOUT)
    return list(reply.items)


def stop_pod_sandbox(c: Endpoint, pod_id: str) -> None:
    request = cri.StopPodSandboxRequest(pod_sandbox_id=pod_id)
    c.runtime.StopPodSandbox(request, timeout=RPC_TIMEOUT)


def remove_pod_sandbox(c: Endpoint, pod_id: str) -> None:
    request = cri.RemovePodSandboxRequest(pod_sandbox_id=pod_id)
    c.runtime.RemovePodSandbox(request, timeout=RPC_TIMEOUT)


def cleanup_pod_sandbox(c: Endpoint, pod_id: str) -> None:
    """Stop then remove: what every spec's AfterEach does (and expects to succeed)."""
    stop_pod_sandbox(c, pod_id)
    remove_pod_sandbox(c, pod_id)


@contextlib.contextmanager
def pod_sandbox(
    c: Endpoint, config: cri.PodSandboxConfig | None = None
) -> Iterator[tuple[str, cri.PodSandboxConfig]]:
    """A pod (by default CreatePodSandboxForContainer's) that is stopped and removed after a
    body that succeeded (the specs' AfterEach, which expects both to succeed); after a
    failure the `c` fixture removes it."""
    if config is None:
        config = pod_config(c, "create-PodSandbox-for-container-")
    pod_id = run_pod_sandbox(c, config)
    yield pod_id, config
    cleanup_pod_sandbox(c, pod_id)


def log_directory(tmp: Path, pod_name: str) -> Path:
    """createLogTempDir: a pod log directory under a fresh host dir."""
    path = tmp / "podLogTest" / pod_name
    path.mkdir(parents=True, mode=0o777)
    return path


# --- containers -------------------------------------------------------------------------------


def container_config(
    prefix: str,
    image: str = DEFAULT_CONTAINER_IMAGE,
    command: Iterable[str] = DEFAULT_CONTAINER_COMMAND,
    **fields: object,
) -> cri.ContainerConfig:
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=prefix + new_uuid(), attempt=DEFAULT_ATTEMPT),
        image=cri.ImageSpec(image=image),
        command=list(command),
        **fields,  # type: ignore[arg-type]
    )


def create_container(
    c: Endpoint, config: cri.ContainerConfig, pod_id: str, pod: cri.PodSandboxConfig
) -> str:
    """CreateContainerWithError: pull the image when it is missing, then create (an error
    is raised to the caller)."""
    image = config.image.image
    if ":" not in image:
        image += ":latest"
    if image_status(c, image) is None:
        pull_public_image(c, image, pod)
    request = cri.CreateContainerRequest(pod_sandbox_id=pod_id, config=config, sandbox_config=pod)
    return str(c.runtime.CreateContainer(request, timeout=RPC_TIMEOUT).container_id)


def create_default_container(
    c: Endpoint,
    pod_id: str,
    pod: cri.PodSandboxConfig,
    prefix: str,
    labels: dict[str, str] | None = None,
) -> str:
    config = container_config(prefix, linux=cri.LinuxContainerConfig(), labels=labels or {})
    return create_container(c, config, pod_id, pod)


def create_pause_container(c: Endpoint, pod_id: str, pod: cri.PodSandboxConfig, prefix: str) -> str:
    config = container_config(
        prefix, command=DEFAULT_PAUSE_COMMAND, linux=cri.LinuxContainerConfig()
    )
    return create_container(c, config, pod_id, pod)


def start_container(c: Endpoint, container_id: str) -> None:
    request = cri.StartContainerRequest(container_id=container_id)
    c.runtime.StartContainer(request, timeout=RPC_TIMEOUT)


def container_status(c: Endpoint, container_id: str, verbose: bool = False) -> cri.ContainerStatus:
    request = cri.ContainerStatusRequest(container_id=container_id, verbose=verbose)
    return c.runtime.ContainerStatus(request, timeout=RPC_TIMEOUT).status


def wait_container_state(c: Endpoint, container_id: str, state: int) -> cri.ContainerStatus:
    """`Eventually(getContainerStatus(…).GetState(), time.Minute, time.Second*4)`."""
    return eventually(
        lambda: container_status(c, container_id), lambda s: s.state == state, MINUTE, STATE_POLL
    )


def start_container_running(c: Endpoint, container_id: str) -> None:
    """testStartContainer: start, then the container is RUNNING."""
    start_container(c, container_id)
    wait_container_state(c, container_id, cri.CONTAINER_RUNNING)


def stop_container(c: Endpoint, container_id: str, timeout: int = STOP_TIMEOUT) -> None:
    """rc.StopContainer (the remote client's deadline: its own timeout plus `timeout`)."""
    request = cri.StopContainerRequest(container_id=container_id, timeout=timeout)
    c.runtime.StopContainer(request, timeout=RPC_TIMEOUT + timeout)


def stop_container_exited(c: Endpoint, container_id: str) -> None:
    """testStopContainer: stopContainer (which fails when the call takes longer than the
    stop timeout), then the container is EXITED."""
    request = cri.StopContainerRequest(container_id=container_id, timeout=STOP_TIMEOUT)
    c.runtime.StopContainer(request, timeout=STOP_TIMEOUT)
    wait_container_state(c, container_id, cri.CONTAINER_EXITED)


def remove_container(c: Endpoint, container_id: str) -> None:
    request = cri.RemoveContainerRequest(container_id=container_id)
    c.runtime.RemoveContainer(request, timeout=RPC_TIMEOUT)


def list_containers(c: Endpoint, flt: cri.ContainerFilter | None = None) -> list[cri.Container]:
    reply = c.runtime.ListContainers(cri.ListContainersRequest(filter=flt), timeout=RPC_TIMEOUT)
    return list(reply.containers)


def container_found(c: Endpoint, container_id: str) -> bool:
    listed = list_containers(c, cri.ContainerFilter(id=container_id))
    return any(x.id == container_id for x in listed)


def exec_sync(
    c: Endpoint, container_id: str, cmd: list[str], timeout: int = EXEC_SYNC_TIMEOUT
) -> cri.ExecSyncResponse:
    request = cri.ExecSyncRequest(container_id=container_id, cmd=cmd, timeout=timeout)
    return c.runtime.ExecSync(request, timeout=timeout + RPC_TIMEOUT)


def exec_sync_container(c: Endpoint, container_id: str, cmd: list[str]) -> str:
    """execSyncContainer: the command succeeds (exit 0, as the Go client counts success) with
    nothing on stderr; its stdout."""
    reply = exec_sync(c, container_id, cmd)
    assert reply.exit_code == 0, f"{cmd} exited {reply.exit_code}: {reply.stderr!r}"
    assert reply.stderr == b"", f"stderr of {cmd}: {reply.stderr!r}"
    return reply.stdout.decode()


# --- logs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogMessage:
    timestamp: str
    stream: str
    log: str


def parse_log_lines(path: Path) -> list[LogMessage]:
    """parseLogLine: one message per line of the log file (`<RFC3339Nano> <stream> <tag>
    <text>`), the last one too when it has no newline yet (a bufio.Scanner's lines). A file
    that is not there is a failure (FileNotFoundError), as upstream's ExpectNoError."""
    lines = path.read_text().split("\n")
    if lines[-1] == "":
        lines.pop()
    out = []
    for line in (x.removesuffix("\r") for x in lines):
        parts = line.split(" ", 3)
        assert len(parts) == 4, f"invalid CRI log line {line!r}"
        time_str, stream, _tag, text = parts
        parse_rfc3339nano(time_str)
        out.append(LogMessage(time_str, stream, text + "\n"))
    return out


def parse_rfc3339nano(value: str) -> None:
    from datetime import datetime

    head, _, frac = value.rstrip("Z").partition(".")
    assert value.endswith("Z") or "+" in value, f"not a UTC timestamp: {value!r}"
    datetime.strptime(head, "%Y-%m-%dT%H:%M:%S")
    assert frac == "" or (frac.isdigit() and len(frac) <= 9), f"bad fraction in {value!r}"


def verify_log_contents(path: Path, log: str, stream: str) -> None:
    """verifyLogContents: one record of `stream` is `log` (read once, no wait)."""
    messages = parse_log_lines(path)
    assert any(m.log == log and m.stream == stream for m in messages), (
        f"expected log {log!r} (stream={stream}) not found in {messages}"
    )


# --- images -------------------------------------------------------------------------------------


def image_status(c: Endpoint, name: str) -> cri.Image | None:
    request = cri.ImageStatusRequest(image=cri.ImageSpec(image=name))
    reply = c.images.ImageStatus(request, timeout=RPC_TIMEOUT)
    return reply.image if reply.HasField("image") else None


def pull_public_image(c: Endpoint, name: str, pod: cri.PodSandboxConfig | None = None) -> str:
    """PullPublicImage (no registry prefix rewriting: the node's mirrors do that); `:latest`
    is added to a name without a tag or digest, as upstream does."""
    if ":" not in name.rsplit("/", 1)[-1] and "@" not in name:
        name += ":latest"
    request = cri.PullImageRequest(image=cri.ImageSpec(image=name), sandbox_config=pod)
    return str(c.images.PullImage(request, timeout=PULL_TIMEOUT).image_ref)


def list_images(c: Endpoint, flt: cri.ImageFilter | None = None) -> list[cri.Image]:
    reply = c.images.ListImages(cri.ListImagesRequest(filter=flt), timeout=RPC_TIMEOUT)
    return list(reply.images)


def remove_image(c: Endpoint, name: str) -> None:
    """removeImage: when the image is there, remove it by its ID."""
    image = image_status(c, name)
    if image is not None:
        request = cri.RemoveImageRequest(image=cri.ImageSpec(image=image.id))
        c.images.RemoveImage(request, timeout=RPC_TIMEOUT)


# --- keeping tests independent ---------------------------------------------------------------


def reset(c: Endpoint) -> list[str]:
    """Remove every pod and container, and every image outside the baseline. Returns what
    failed (a test's own cleanup should have left nothing)."""
    problems = []
    for pod in list_pod_sandbox(c):
        try:
            cleanup_pod_sandbox(c, pod.id)
        except grpc.RpcError as e:
            problems.append(f"pod {pod.id}: {e}")
    for container in list_containers(c):
        try:
            remove_container(c, container.id)
        except grpc.RpcError as e:
            problems.append(f"container {container.id}: {e}")
    for image in list_images(c):
        if image.id not in c.baseline:
            try:
                c.images.RemoveImage(
                    cri.RemoveImageRequest(image=cri.ImageSpec(image=image.id)),
                    timeout=RPC_TIMEOUT,
                )
            except grpc.RpcError as e:
                problems.append(f"image {image.id}: {e}")
    return problems


# --- the two endpoints ------------------------------------------------------------------------

ENDPOINTS = ("hexcri", "containerd-cri")


def on_both(**xfail: str) -> pytest.MarkDecorator:
    """Run a spec on both endpoints (fixture `c`). `hexcri="…"` or `containerd_cri="…"`
    marks that one case as a known failure (strict: it must fail), the reason naming the bug."""
    params = []
    for name in ENDPOINTS:
        reason = xfail.get(name.replace("-", "_"))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(name, id=name, marks=marks))
    return pytest.mark.parametrize("c", params, indirect=True)
