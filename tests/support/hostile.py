"""Hostile CRI requests (issue 11's cases), each with the status code and a fragment of the
message hexcri answers: one table for the servicer on the fakes and the real stack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import grpc
from cri_api.v1 import api_pb2 as cri

IA = grpc.StatusCode.INVALID_ARGUMENT
NF = grpc.StatusCode.NOT_FOUND
UNIMPLEMENTED = grpc.StatusCode.UNIMPLEMENTED
BIG = 1 << 20  # a 1 MiB value
MESSAGE_LIMIT = 400  # no answer echoes a long value whole

Kind = Literal["pod", "handler", "container", "update", "pull", "status"]


@dataclass(frozen=True)
class Case:
    """`change` edits the request of `kind` built from a valid one: the pod config for
    "pod", the RunPodSandboxRequest for "handler", the container config for "container",
    the resources for "update", the pull request for "pull", the ContainerStatusRequest
    for "status"."""

    id: str
    kind: Kind
    change: Callable[..., None]
    code: grpc.StatusCode
    fragment: str


def _pod_linux(p: cri.PodSandboxConfig) -> cri.LinuxPodSandboxConfig:
    return p.linux


def _host_network(p: cri.PodSandboxConfig) -> None:
    p.linux.security_context.namespace_options.network = cri.NODE


def _sysctl(name: str, host_network: bool = False) -> Callable[[cri.PodSandboxConfig], None]:
    def change(p: cri.PodSandboxConfig) -> None:
        p.linux.sysctls[name] = "1"
        if host_network:
            p.hostname = ""
            _host_network(p)

    return change


def _res(**fields: object) -> Callable[[cri.ContainerConfig], None]:
    def change(c: cri.ContainerConfig) -> None:
        c.linux.resources.CopyFrom(cri.LinuxContainerResources(**fields))  # type: ignore[arg-type]

    return change


def _update(**fields: object) -> Callable[[cri.LinuxContainerResources], None]:
    def change(r: cri.LinuxContainerResources) -> None:
        r.CopyFrom(cri.LinuxContainerResources(**fields))  # type: ignore[arg-type]

    return change


def _mount(**fields: object) -> Callable[[cri.ContainerConfig], None]:
    def change(c: cri.ContainerConfig) -> None:
        base: dict[str, object] = {"container_path": "/mnt", "host_path": "/tmp"}
        c.mounts.append(cri.Mount(**{**base, **fields}))  # type: ignore[arg-type]

    return change


def _set(attr: str, value: object) -> Callable[..., None]:
    def change(msg: object) -> None:
        setattr(msg, attr, value)

    return change


def _ctr_sec(**fields: object) -> Callable[[cri.ContainerConfig], None]:
    def change(c: cri.ContainerConfig) -> None:
        c.linux.security_context.MergeFrom(cri.LinuxContainerSecurityContext(**fields))  # type: ignore[arg-type]

    return change


def _env(key: str, value: str = "v") -> Callable[[cri.ContainerConfig], None]:
    def change(c: cri.ContainerConfig) -> None:
        c.envs.append(cri.KeyValue(key=key, value=value))

    return change


def _metadata(field: str, value: str) -> Callable[[cri.PodSandboxConfig], None]:
    def change(p: cri.PodSandboxConfig) -> None:
        setattr(p.metadata, field, value)

    return change


def _userns(p: cri.PodSandboxConfig) -> None:
    whole = cri.IDMapping(host_id=0, container_id=1, length=2**32 - 1)
    p.linux.security_context.namespace_options.userns_options.CopyFrom(
        cri.UserNamespace(mode=cri.POD, uids=[whole], gids=[whole])
    )


def _image_mount(c: cri.ContainerConfig) -> None:
    c.mounts.append(cri.Mount(container_path="/img", image=cri.ImageSpec(image="::")))


def _device(c: cri.ContainerConfig) -> None:
    c.devices.append(cri.Device(container_path="/dev/x", host_path="/dev/null", permissions="xyz"))


def _hugepage(c: cri.ContainerConfig) -> None:
    c.linux.resources.hugepage_limits.append(cri.HugepageLimit(page_size="bogus", limit=1 << 21))


def _dns(p: cri.PodSandboxConfig) -> None:
    p.dns_config.CopyFrom(cri.DNSConfig(servers=["8.8.8.8\nnameserver 6.6.6.6"]))


def _supplemental(c: cri.ContainerConfig) -> None:
    c.linux.security_context.supplemental_groups.append(-5)


def _pod_supplemental(p: cri.PodSandboxConfig) -> None:
    p.linux.security_context.supplemental_groups.append(-5)


def _command(*argv: str) -> Callable[[cri.ContainerConfig], None]:
    def change(c: cri.ContainerConfig) -> None:
        del c.command[:]
        c.command.extend(argv)

    return change


def _host_network_hostname(p: cri.PodSandboxConfig) -> None:
    _host_network(p)
    p.hostname = "custom"


def _auth_newline(r: cri.PullImageRequest) -> None:
    r.auth.CopyFrom(cri.AuthConfig(server_address="registry.example.com\nx", username="u"))


CASES: list[Case] = [
    # files outside the pod's log directory
    Case("log-absolute", "container", _set("log_path", "/some/where.log"), IA, "log_path"),
    Case("log-dotdot", "container", _set("log_path", "../../etc/passwd"), IA, "log_path"),
    Case("log-nul", "container", _set("log_path", "a\x00b.log"), IA, "log_path"),
    Case("log-5000", "container", _set("log_path", "x" * 5000), IA, "log_path"),
    Case("log-dot", "container", _set("log_path", "."), IA, "log_path"),
    Case(
        "cgroup-parent-dotdot",
        "pod",
        lambda p: setattr(p.linux, "cgroup_parent", "../../../../x"),
        IA,
        "cgroup_parent",
    ),
    # client mistakes answered INTERNAL before
    Case("sysctl-invalid", "pod", _sysctl("kernel.panic"), IA, "namespaced sysctl"),
    Case("sysctl-not-namespaced", "pod", _sysctl("vm.swappiness"), IA, "namespaced sysctl"),
    Case("sysctl-slash", "pod", _sysctl("net/ipv4/ip_forward"), IA, "sysctl name"),
    Case("sysctl-dotdot", "pod", _sysctl("net.ipv4..x"), IA, "sysctl name"),
    Case(
        "sysctl-net-host-network", "pod", _sysctl("net.ipv4.ip_forward", True), IA, "host network"
    ),
    Case("cpu-period-1", "container", _res(cpu_period=1), IA, "cpu_period"),
    Case("memory-limit-1", "container", _res(memory_limit_in_bytes=1), IA, "memory_limit_in_bytes"),
    Case("cpu-shares-2^62", "container", _res(cpu_shares=2**62), IA, "cpu_shares"),
    Case("cpuset-out-of-range", "container", _res(cpuset_cpus="0-999"), IA, "cpuset_cpus"),
    Case("cpuset-garbage", "container", _res(cpuset_cpus="garbage"), IA, "cpuset_cpus"),
    Case("cpuset-mems-out-of-range", "container", _res(cpuset_mems="7"), IA, "cpuset_mems"),
    Case(
        "swap-below-memory",
        "container",
        _res(memory_limit_in_bytes=64 << 20, memory_swap_limit_in_bytes=32 << 20),
        IA,
        "memory_swap_limit_in_bytes",
    ),
    Case("oom-score-adj-5000", "container", _res(oom_score_adj=5000), IA, "oom_score_adj"),
    Case(
        "run-as-user-2^40",
        "container",
        _ctr_sec(run_as_user=cri.Int64Value(value=2**40)),
        IA,
        "run_as_user",
    ),
    Case("supplemental-negative", "container", _supplemental, IA, "supplemental_groups"),
    Case("pod-supplemental-negative", "pod", _pod_supplemental, IA, "supplemental_groups"),
    Case("env-empty-name", "container", _env(""), IA, "envs[0].key"),
    Case("env-name-with-equals", "container", _env("A=B"), IA, "envs[0].key"),
    Case("working-dir-relative", "container", _set("working_dir", "relative"), IA, "working_dir"),
    Case("working-dir-nul", "container", _set("working_dir", "/a\x00b"), IA, "working_dir"),
    Case("unified-on-v1", "container", _res(unified={"memory.high": "1"}), IA, "unified"),
    Case("hostname-65", "pod", _set("hostname", "h" * 65), IA, "hostname"),
    Case("pod-name-nul", "pod", _metadata("name", "a\x00b"), IA, "metadata.name"),
    Case("mount-path-nul", "container", _mount(container_path="/mnt\x00x"), IA, "container_path"),
    Case(
        "pod-name-too-long-for-cni-args",
        "pod",
        _metadata("name", "n" * 200_000),
        IA,
        "metadata.name",
    ),
    Case(
        "namespace-semicolon",
        "pod",
        _metadata("namespace", "ns;K8S_POD_NAME=x"),
        IA,
        "metadata.namespace",
    ),
    Case("namespace-quotes", "pod", _metadata("namespace", "ns'\""), IA, "metadata.namespace"),
    # accepted though they should be refused
    Case(
        "runtime-handler-unknown", "handler", _set("runtime_handler", "kata"), IA, "runtime handler"
    ),
    Case(
        "runtime-handler-path",
        "handler",
        _set("runtime_handler", "../../../bin/sh"),
        IA,
        "runtime handler",
    ),
    Case("userns-whole-range", "pod", _userns, IA, "32-bit ID space"),
    Case("image-volume-malformed", "container", _image_mount, IA, "mounts[0].image"),
    Case(
        "rro-without-readonly",
        "container",
        _mount(recursive_read_only=True),
        IA,
        "recursive_read_only",
    ),
    Case(
        "capability-unknown",
        "container",
        _ctr_sec(capabilities=cri.Capability(add_capabilities=["CAP_NO_SUCH"])),
        IA,
        "CAP_NO_SUCH",
    ),
    Case("device-permissions-xyz", "container", _device, IA, "permissions"),
    Case("hugepage-bogus", "container", _hugepage, IA, "hugepage"),
    Case("cpu-quota-negative", "container", _res(cpu_quota=-5000), IA, "cpu_quota"),
    Case("update-cpu-quota-negative", "update", _update(cpu_quota=-5000), IA, "cpu_quota"),
    Case(
        "update-memory-1", "update", _update(memory_limit_in_bytes=1), IA, "memory_limit_in_bytes"
    ),
    Case("mount-host-path-empty", "container", _mount(host_path=""), IA, "host_path"),
    Case("mount-host-path-relative", "container", _mount(host_path="tmp"), IA, "host_path"),
    Case(
        "container-name-1mib",
        "container",
        lambda c: setattr(c.metadata, "name", "c" * BIG),
        IA,
        "metadata.name",
    ),
    Case(
        "container-name-nul",
        "container",
        lambda c: setattr(c.metadata, "name", "a\x00b"),
        IA,
        "metadata.name",
    ),
    Case("command-arg-nul", "container", _command("sh", "-c", "a\x00b"), IA, "command[2]"),
    Case("dns-server-newline", "pod", _dns, IA, "dns_config.servers[0]"),
    # messages
    Case("status-id-1mib", "status", _set("container_id", "f" * BIG), NF, "not found"),
    Case(
        "pull-reference-1mib", "pull", lambda r: setattr(r.image, "image", "a" * BIG), IA, "image"
    ),
    Case(
        "pull-uppercase", "pull", lambda r: setattr(r.image, "image", "UPPER/case"), IA, "lowercase"
    ),
    Case("pull-auth-newline", "pull", _auth_newline, IA, "auth.server_address"),
    # issue 10: as containerd
    Case("host-network-hostname", "pod", _host_network_hostname, IA, "host-network pod"),
]


@dataclass
class Target:
    """Where the cases go: CRI stubs, a READY pod (its config) and a CREATED container."""

    runtime: Any
    images: Any
    pod: cri.PodSandboxConfig
    sandbox: str
    created: str
    logs: str  # the log directory of pods the "pod" cases create


def hostile_pod(name: str, logs: str) -> cri.PodSandboxConfig:
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=name, uid=f"uid-{name}", namespace="hostile"),
        hostname=name,
        log_directory=logs,
        linux=cri.LinuxPodSandboxConfig(cgroup_parent=f"/hexcri-e2e-{name}"),
    )


def hostile_container(name: str) -> cri.ContainerConfig:
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=name),
        image=cri.ImageSpec(image="busybox"),
        command=["true"],
        log_path=f"{name}.log",
    )


def request_of(t: Target, case: Case) -> tuple[Any, Any]:
    """The hostile request of `case` and the stub method to send it with."""
    if case.kind in ("pod", "handler"):
        request: Any = cri.RunPodSandboxRequest(config=hostile_pod("hostile", t.logs))
        case.change(request.config if case.kind == "pod" else request)
        return t.runtime.RunPodSandbox, request
    if case.kind == "container":
        config = hostile_container("hostile")
        case.change(config)
        request = cri.CreateContainerRequest(
            pod_sandbox_id=t.sandbox, config=config, sandbox_config=t.pod
        )
        return t.runtime.CreateContainer, request
    if case.kind == "update":
        resources = cri.LinuxContainerResources()
        case.change(resources)
        request = cri.UpdateContainerResourcesRequest(container_id=t.created, linux=resources)
        return t.runtime.UpdateContainerResources, request
    if case.kind == "pull":
        request = cri.PullImageRequest(image=cri.ImageSpec(image="busybox"))
        case.change(request)
        return t.images.PullImage, request
    request = cri.ContainerStatusRequest(container_id=t.created)
    case.change(request)
    return t.runtime.ContainerStatus, request


async def refusal(t: Target, case: Case) -> tuple[grpc.StatusCode, str]:
    """The code and message `case` is answered with (AssertionError if it is accepted)."""
    method, request = request_of(t, case)
    try:
        await method(request)
    except grpc.aio.AioRpcError as err:
        return err.code(), err.details() or ""
    raise AssertionError(f"{case.id} was accepted")
