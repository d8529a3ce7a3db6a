"""Generated requests, thrown at the servicer over the socket: whatever a client sends, the
answer is never UNKNOWN or INTERNAL, and a refused request leaves every store and fake as it
was."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
from cri_api.v1 import api_pb2 as cri
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.unit.cri.conftest import Client, fresh_client, snapshot

INT64 = st.integers(-(2**63), 2**63 - 1)
INT32 = st.integers(-(2**31), 2**31 - 1)
UINT32 = st.integers(0, 2**32 - 1)
SMALL = st.integers(-3, 3)
ENUM = st.integers(0, 6)  # a few past the last known value of most CRI enums
# protobuf strings are UTF-8: no lone surrogates
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
NAMES = st.sampled_from(["", "a", "b", "web", "Web", " a", "a_b", "x" * 70]) | TEXT
LABELS = st.dictionaries(
    st.sampled_from(["", "app", " app", "tier", "a/b"]) | TEXT, TEXT, max_size=3
)
IMAGES = (
    st.sampled_from(
        [
            "",
            "busybox",
            "busybox:1.36",
            "docker.io/library/busybox:latest",
            "nginx",
            "registry.k8s.io/pause:3.9",
            "Not A Ref",
            "busybox@sha256:" + "0" * 64,
            "sha256:" + "0" * 64,
            "sha256:",
            "localhost:5000/x/y:tag",
            "UPPER",
            ":latest",
        ]
    )
    | TEXT
)
PATHS = st.sampled_from(["/data", "relative", "", "/", "/a/../b"])
# commands that end on their own (at once) or run until killed; never "sleep"
COMMANDS = st.sampled_from(
    [[], ["true"], ["false"], ["echo", "hi"], ["exit", "3"], ["httpd"], ["sh", "-c", "exit 2"]]
)
EXEC_COMMANDS = st.sampled_from(
    [[], ["true"], ["false"], ["echo", "x"], ["exit", "7"], ["sh", "-c", "echo a; exit 1"]]
)
SAFE_LOG = st.sampled_from(["", "c.log", "sub/c.log", "0.log"])


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def build(cls: type, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A message of `cls` with each field either left unset or drawn from its strategy."""

    @st.composite
    def draw_message(draw: st.DrawFn) -> Any:
        chosen = {k: draw(optional(v)) for k, v in fields.items()}
        return cls(**{k: v for k, v in chosen.items() if v is not None})

    return draw_message()


VALID_RESOURCES = build(
    cri.LinuxContainerResources,
    cpu_period=st.integers(0, 10**6),
    cpu_quota=st.integers(-1, 10**6),
    cpu_shares=st.integers(0, 10**4),
    memory_limit_in_bytes=st.integers(0, 2**40),
    oom_score_adj=st.integers(-1000, 1000),
)
RESOURCES = VALID_RESOURCES | build(
    cri.LinuxContainerResources,
    cpu_period=INT64 | SMALL,
    cpu_quota=INT64 | SMALL,
    cpu_shares=INT64 | SMALL,
    memory_limit_in_bytes=INT64 | SMALL,
    memory_swap_limit_in_bytes=INT64,
    oom_score_adj=INT64 | st.integers(-1001, 1001),
    cpuset_cpus=st.sampled_from(["", "0", "0-1", "x"]),
    unified=st.dictionaries(TEXT, TEXT, max_size=2),
    hugepage_limits=st.lists(
        build(cri.HugepageLimit, page_size=TEXT, limit=st.integers(0, 2**64 - 1)), max_size=2
    ),
)
MODES = st.integers(0, 2)
VALID_NAMESPACES = build(cri.NamespaceOption, network=MODES, pid=MODES, ipc=MODES)
NAMESPACES = VALID_NAMESPACES | build(
    cri.NamespaceOption, network=ENUM, pid=ENUM, ipc=ENUM, target_id=TEXT
)
VALID_PROFILE = build(cri.SecurityProfile, profile_type=st.integers(0, 1)) | st.just(
    cri.SecurityProfile(profile_type=cri.SecurityProfile.Localhost, localhost_ref="/p.json")
)
PROFILE = VALID_PROFILE | build(cri.SecurityProfile, profile_type=ENUM, localhost_ref=TEXT)
PROFILE_PATHS = st.sampled_from(["", "unconfined", "runtime/default", "localhost/p", "bogus"])
SANDBOX_SECURITY = build(
    cri.LinuxSandboxSecurityContext,
    namespace_options=NAMESPACES,
    run_as_user=build(cri.Int64Value, value=INT64),
    run_as_group=build(cri.Int64Value, value=INT64),
    readonly_rootfs=st.booleans(),
    supplemental_groups=st.lists(INT64, max_size=3),
    privileged=st.booleans(),
    seccomp=PROFILE,
    seccomp_profile_path=PROFILE_PATHS,
)
CONTAINER_SECURITY = build(
    cri.LinuxContainerSecurityContext,
    capabilities=build(
        cri.Capability,
        add_capabilities=st.lists(TEXT, max_size=2),
        drop_capabilities=st.lists(st.sampled_from(["ALL", "NET_RAW"]) | TEXT, max_size=2),
    ),
    privileged=st.booleans(),
    namespace_options=NAMESPACES,
    run_as_user=build(cri.Int64Value, value=INT64),
    run_as_username=TEXT,
    run_as_group=build(cri.Int64Value, value=INT64),
    readonly_rootfs=st.booleans(),
    no_new_privs=st.booleans(),
    masked_paths=st.lists(PATHS, max_size=2),
    readonly_paths=st.lists(PATHS, max_size=2),
    seccomp=PROFILE,
    apparmor=PROFILE,
    seccomp_profile_path=PROFILE_PATHS,
    apparmor_profile=PROFILE_PATHS,
)


def valid_pod_config(logs: str) -> st.SearchStrategy[Any]:
    """A config the server should accept (unless its name is taken)."""
    return st.builds(
        cri.PodSandboxConfig,
        metadata=st.builds(
            cri.PodSandboxMetadata,
            name=st.sampled_from(["a", "b", "web"]),
            uid=st.sampled_from(["u1", "u2"]),
            namespace=st.sampled_from(["ns", "default"]),
            attempt=st.integers(0, 2),
        ),
        hostname=TEXT,
        log_directory=st.just(logs),
        port_mappings=st.lists(
            build(
                cri.PortMapping,
                protocol=st.integers(0, 2),
                container_port=st.integers(0, 65535),
                host_port=st.integers(0, 65535),
            ),
            max_size=2,
        ),
        labels=LABELS,
        annotations=LABELS,
        linux=build(
            cri.LinuxPodSandboxConfig,
            cgroup_parent=TEXT,
            security_context=build(
                cri.LinuxSandboxSecurityContext,
                namespace_options=VALID_NAMESPACES,
                run_as_user=build(cri.Int64Value, value=st.integers(0, 65535)),
                privileged=st.booleans(),
                seccomp=VALID_PROFILE,
            ),
            resources=VALID_RESOURCES,
        ),
    )


def pod_config(logs: str) -> st.SearchStrategy[Any]:
    return valid_pod_config(logs) | random_pod_config(logs)


def random_pod_config(logs: str) -> st.SearchStrategy[Any]:
    return build(
        cri.PodSandboxConfig,
        metadata=build(
            cri.PodSandboxMetadata,
            name=NAMES,
            uid=NAMES,
            namespace=NAMES,
            attempt=UINT32 | st.integers(0, 2),
        ),
        hostname=TEXT,
        log_directory=st.just(logs),  # the fakes write real log files: keep them in our dir
        dns_config=build(
            cri.DNSConfig,
            servers=st.lists(TEXT, max_size=2),
            searches=st.lists(TEXT, max_size=2),
            options=st.lists(TEXT, max_size=2),
        ),
        port_mappings=st.lists(
            build(
                cri.PortMapping,
                protocol=ENUM,
                container_port=INT32 | st.integers(0, 70000),
                host_port=INT32 | st.integers(0, 70000),
                host_ip=TEXT,
            ),
            max_size=2,
        ),
        labels=LABELS,
        annotations=LABELS,
        linux=build(
            cri.LinuxPodSandboxConfig,
            cgroup_parent=TEXT,
            security_context=SANDBOX_SECURITY,
            sysctls=st.dictionaries(TEXT, TEXT, max_size=2),
            overhead=RESOURCES,
            resources=RESOURCES,
        ),
    )


VALID_CONTAINER_CONFIG = st.builds(
    cri.ContainerConfig,
    metadata=st.builds(
        cri.ContainerMetadata, name=st.sampled_from(["c1", "c2", "c3"]), attempt=st.integers(0, 1)
    ),
    image=st.builds(
        cri.ImageSpec, image=st.sampled_from(["busybox", "docker.io/library/busybox:latest"])
    ),
    command=COMMANDS,
    envs=st.lists(build(cri.KeyValue, key=TEXT, value=TEXT), max_size=2),
    mounts=st.lists(
        st.builds(
            cri.Mount,
            container_path=st.sampled_from(["/data", "/etc/x"]),
            host_path=st.sampled_from(["/srv", ""]),
            readonly=st.booleans(),
            propagation=st.integers(0, 2),
        ),
        max_size=2,
    ),
    labels=LABELS,
    log_path=SAFE_LOG,
    tty=st.booleans(),
    linux=build(
        cri.LinuxContainerConfig,
        resources=VALID_RESOURCES,
        security_context=build(
            cri.LinuxContainerSecurityContext,
            namespace_options=VALID_NAMESPACES,
            privileged=st.booleans(),
            seccomp=VALID_PROFILE,
            apparmor=VALID_PROFILE,
        ),
    ),
    stop_signal=st.sampled_from([0, cri.SIGTERM, cri.SIGINT, cri.SIGKILL, cri.SIGRTMINPLUS1]),
)
CONTAINER_CONFIG = VALID_CONTAINER_CONFIG | build(
    cri.ContainerConfig,
    metadata=build(cri.ContainerMetadata, name=NAMES, attempt=st.integers(0, 2) | UINT32),
    image=build(cri.ImageSpec, image=IMAGES, annotations=LABELS),
    command=COMMANDS,
    args=st.lists(TEXT, max_size=2),
    working_dir=PATHS | TEXT,
    envs=st.lists(build(cri.KeyValue, key=TEXT, value=TEXT), max_size=3),
    mounts=st.lists(
        build(
            cri.Mount,
            container_path=PATHS,
            host_path=PATHS,
            readonly=st.booleans(),
            selinux_relabel=st.booleans(),
            propagation=ENUM,
        ),
        max_size=2,
    ),
    devices=st.lists(
        build(cri.Device, container_path=PATHS, host_path=PATHS, permissions=TEXT), max_size=2
    ),
    labels=LABELS,
    annotations=LABELS,
    log_path=SAFE_LOG,
    stdin=st.booleans(),
    stdin_once=st.booleans(),
    tty=st.booleans(),
    linux=build(cri.LinuxContainerConfig, resources=RESOURCES, security_context=CONTAINER_SECURITY),
    stop_signal=st.integers(0, 70) | st.sampled_from([0, cri.SIGTERM, cri.SIGUSR1, 999]),
)
AUTH = build(cri.AuthConfig, username=TEXT, password=TEXT, auth=TEXT, server_address=TEXT)
STATE_FILTERS = {
    "pod": build(cri.PodSandboxStateValue, state=ENUM),
    "container": build(cri.ContainerStateValue, state=ENUM),
}


def ids(known: list[str]) -> st.SearchStrategy[str]:
    """Known IDs, their prefixes, the empty ID, unknown IDs and junk."""
    prefixes = [i[:n] for i in known for n in (1, 3, 12)]
    junk = st.sampled_from(["", "0" * 64, "zz", *prefixes]) | TEXT
    return st.sampled_from(known) | junk if known else junk


Op = Callable[[Client, st.DataObject], Any]


def _sandbox_ids(c: Client) -> list[str]:
    return [s.id for s in c.ctx.sandboxes.all()]


def _container_ids(c: Client) -> list[str]:
    return [x.id for x in c.ctx.containers.all()]


def run_pod(c: Client, data: st.DataObject) -> Any:
    config = data.draw(optional(pod_config(c.logs)))
    req = cri.RunPodSandboxRequest(runtime_handler=data.draw(st.sampled_from(["", "runc"]) | TEXT))
    if config is not None:
        req.config.CopyFrom(config)
    return c.runtime.RunPodSandbox(req)


def create_container(c: Client, data: st.DataObject) -> Any:
    req = cri.CreateContainerRequest(pod_sandbox_id=data.draw(ids(_sandbox_ids(c))))
    config = data.draw(optional(CONTAINER_CONFIG))
    if config is not None:
        req.config.CopyFrom(config)
    return c.runtime.CreateContainer(req)


def container_call(name: str, request: Callable[[str, st.DataObject], Any]) -> Op:
    def op(c: Client, data: st.DataObject) -> Any:
        return getattr(c.runtime, name)(request(data.draw(ids(_container_ids(c))), data))

    op.__name__ = name
    return op


def sandbox_call(name: str, request: Callable[[str, st.DataObject], Any]) -> Op:
    def op(c: Client, data: st.DataObject) -> Any:
        return getattr(c.runtime, name)(request(data.draw(ids(_sandbox_ids(c))), data))

    op.__name__ = name
    return op


def image_call(name: str, request: Callable[[Any, st.DataObject], Any]) -> Op:
    def op(c: Client, data: st.DataObject) -> Any:
        spec = data.draw(optional(build(cri.ImageSpec, image=IMAGES)))
        return getattr(c.images, name)(request(spec, data))

    op.__name__ = name
    return op


def list_containers(c: Client, data: st.DataObject) -> Any:
    f = data.draw(
        optional(
            build(
                cri.ContainerFilter,
                id=ids(_container_ids(c)),
                state=STATE_FILTERS["container"],
                pod_sandbox_id=ids(_sandbox_ids(c)),
                label_selector=LABELS,
            )
        )
    )
    return c.runtime.ListContainers(cri.ListContainersRequest(filter=f))


def list_pods(c: Client, data: st.DataObject) -> Any:
    f = data.draw(
        optional(
            build(
                cri.PodSandboxFilter,
                id=ids(_sandbox_ids(c)),
                state=STATE_FILTERS["pod"],
                label_selector=LABELS,
            )
        )
    )
    return c.runtime.ListPodSandbox(cri.ListPodSandboxRequest(filter=f))


def list_container_stats(c: Client, data: st.DataObject) -> Any:
    f = data.draw(
        optional(
            build(
                cri.ContainerStatsFilter,
                id=ids(_container_ids(c)),
                pod_sandbox_id=ids(_sandbox_ids(c)),
                label_selector=LABELS,
            )
        )
    )
    return c.runtime.ListContainerStats(cri.ListContainerStatsRequest(filter=f))


def list_pod_stats(c: Client, data: st.DataObject) -> Any:
    f = data.draw(
        optional(build(cri.PodSandboxStatsFilter, id=ids(_sandbox_ids(c)), label_selector=LABELS))
    )
    return c.runtime.ListPodSandboxStats(cri.ListPodSandboxStatsRequest(filter=f))


def update_runtime_config(c: Client, data: st.DataObject) -> Any:
    cidr = data.draw(
        st.sampled_from(["", "10.77.0.0/16", "10.0.0.0/99", "fd00::/64", "x", "10.1.2.3/24"]) | TEXT
    )
    config = cri.RuntimeConfig(network_config=cri.NetworkConfig(pod_cidr=cidr))
    return c.runtime.UpdateRuntimeConfig(cri.UpdateRuntimeConfigRequest(runtime_config=config))


def _image_request(cls: type) -> Callable[[Any, st.DataObject], Any]:
    return lambda spec, data: cls(image=spec)


def _pull(spec: Any, data: st.DataObject) -> Any:
    return cri.PullImageRequest(
        image=spec,
        auth=data.draw(optional(AUTH)),
        sandbox_config=data.draw(optional(pod_config("/nonexistent"))),
    )


def _list_images(c: Client, data: st.DataObject) -> Any:
    f = data.draw(optional(build(cri.ImageFilter, image=build(cri.ImageSpec, image=IMAGES))))
    return c.images.ListImages(cri.ListImagesRequest(filter=f))


OPS: list[Op] = [
    run_pod,
    run_pod,
    create_container,
    create_container,
    create_container,
    container_call("StartContainer", lambda i, d: cri.StartContainerRequest(container_id=i)),
    container_call("StartContainer", lambda i, d: cri.StartContainerRequest(container_id=i)),
    container_call(
        "StopContainer",
        lambda i, d: cri.StopContainerRequest(
            container_id=i, timeout=d.draw(st.integers(-1, 1) | INT64.filter(lambda t: t <= 0))
        ),
    ),
    container_call("RemoveContainer", lambda i, d: cri.RemoveContainerRequest(container_id=i)),
    container_call(
        "ContainerStatus",
        lambda i, d: cri.ContainerStatusRequest(container_id=i, verbose=d.draw(st.booleans())),
    ),
    container_call(
        "ExecSync",
        lambda i, d: cri.ExecSyncRequest(
            container_id=i, cmd=d.draw(EXEC_COMMANDS), timeout=d.draw(st.integers(-2, 5))
        ),
    ),
    container_call(
        "UpdateContainerResources",
        lambda i, d: cri.UpdateContainerResourcesRequest(
            container_id=i, linux=d.draw(optional(RESOURCES))
        ),
    ),
    container_call(
        "ReopenContainerLog", lambda i, d: cri.ReopenContainerLogRequest(container_id=i)
    ),
    container_call("ContainerStats", lambda i, d: cri.ContainerStatsRequest(container_id=i)),
    sandbox_call("StopPodSandbox", lambda i, d: cri.StopPodSandboxRequest(pod_sandbox_id=i)),
    sandbox_call("RemovePodSandbox", lambda i, d: cri.RemovePodSandboxRequest(pod_sandbox_id=i)),
    sandbox_call(
        "PodSandboxStatus",
        lambda i, d: cri.PodSandboxStatusRequest(pod_sandbox_id=i, verbose=d.draw(st.booleans())),
    ),
    sandbox_call("PodSandboxStats", lambda i, d: cri.PodSandboxStatsRequest(pod_sandbox_id=i)),
    sandbox_call(
        "UpdatePodSandboxResources",
        lambda i, d: cri.UpdatePodSandboxResourcesRequest(
            pod_sandbox_id=i,
            overhead=d.draw(optional(RESOURCES)),
            resources=d.draw(optional(RESOURCES)),
        ),
    ),
    list_containers,
    list_pods,
    list_container_stats,
    list_pod_stats,
    update_runtime_config,
    image_call("PullImage", _pull),
    image_call("PullImage", _pull),
    image_call(
        "ImageStatus",
        lambda spec, d: cri.ImageStatusRequest(image=spec, verbose=d.draw(st.booleans())),
    ),
    image_call("RemoveImage", _image_request(cri.RemoveImageRequest)),
    _list_images,
]


async def settle(c: Client) -> None:
    """Let exits of containers that end at once be recorded, so snapshots are stable."""
    for _ in range(3):
        await asyncio.sleep(0.005)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
async def test_generated_requests_never_get_internal_errors(data: st.DataObject) -> None:
    async with fresh_client() as client:
        await client.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image="busybox")))
        seed = cri.PodSandboxConfig(
            metadata=cri.PodSandboxMetadata(name="seed", uid="seed", namespace="ns"),
            log_directory=client.logs,
        )
        await client.runtime.RunPodSandbox(cri.RunPodSandboxRequest(config=seed))
        for _ in range(data.draw(st.integers(1, 12), label="calls")):
            op = data.draw(st.sampled_from(OPS), label="op")
            await settle(client)
            before = await snapshot(client)
            try:
                await op(client, data)
                event(f"{op.__name__}: OK")
            except grpc.aio.AioRpcError as err:
                code = err.code()
                event(f"{op.__name__}: {code.name} {(err.details() or '')[:50]}")
                assert code not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL), (
                    op.__name__,
                    code,
                    err.details(),
                )
                await settle(client)
                assert await snapshot(client) == before, (op.__name__, code, err.details())
