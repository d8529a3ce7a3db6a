"""Domain values → CRI protobuf responses: pure functions."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from cri_api.v1 import api_pb2 as cri

from adapters.cri import signals
from domain.model import (
    Condition,
    Container,
    ContainerEvent,
    ContainerStats,
    FilesystemUsage,
    Image,
    InterfaceStats,
    LinuxResources,
    Mount,
    NamespaceOptions,
    PodStats,
    Sandbox,
)
from domain.validation.paths import effective_log_path

# --- shared pieces --------------------------------------------------------------------------


def namespace_options(options: NamespaceOptions) -> cri.NamespaceOption:
    return cri.NamespaceOption(
        network=options.network.value,  # type: ignore[arg-type]
        pid=options.pid.value,  # type: ignore[arg-type]
        ipc=options.ipc.value,  # type: ignore[arg-type]
        target_id=options.target_id,
    )


def linux_resources(r: LinuxResources) -> cri.LinuxContainerResources:
    return cri.LinuxContainerResources(
        cpu_period=r.cpu_period,
        cpu_quota=r.cpu_quota,
        cpu_shares=r.cpu_shares,
        memory_limit_in_bytes=r.memory_limit_in_bytes,
        memory_swap_limit_in_bytes=r.memory_swap_limit_in_bytes,
        oom_score_adj=r.oom_score_adj,
        cpuset_cpus=r.cpuset_cpus,
        cpuset_mems=r.cpuset_mems,
        hugepage_limits=[
            cri.HugepageLimit(page_size=h.page_size, limit=h.limit) for h in r.hugepage_limits
        ],
        unified=r.unified,
    )


def info(payload: dict[str, Any]) -> dict[str, str]:
    """A verbose `info` map: one JSON document under the key "info", as containerd does."""
    return {"info": json.dumps(payload, sort_keys=True, default=str)}


def _uint64(value: int) -> cri.UInt64Value:
    return cri.UInt64Value(value=max(0, value))


# --- sandboxes ------------------------------------------------------------------------------


def sandbox_metadata(sandbox: Sandbox) -> cri.PodSandboxMetadata:
    m = sandbox.config.metadata
    return cri.PodSandboxMetadata(name=m.name, uid=m.uid, namespace=m.namespace, attempt=m.attempt)


def pod_sandbox(sandbox: Sandbox) -> cri.PodSandbox:
    return cri.PodSandbox(
        id=sandbox.id,
        metadata=sandbox_metadata(sandbox),
        state=sandbox.state.shown.value,  # type: ignore[arg-type]
        created_at=sandbox.created_at,
        labels=sandbox.config.labels,
        annotations=sandbox.config.annotations,
        runtime_handler=sandbox.runtime_handler,
    )


def pod_sandbox_status(sandbox: Sandbox) -> cri.PodSandboxStatus:
    ips = sandbox.ips
    return cri.PodSandboxStatus(
        id=sandbox.id,
        metadata=sandbox_metadata(sandbox),
        state=sandbox.state.shown.value,  # type: ignore[arg-type]
        created_at=sandbox.created_at,
        network=cri.PodSandboxNetworkStatus(
            ip=ips[0] if ips else "", additional_ips=[cri.PodIP(ip=ip) for ip in ips[1:]]
        ),
        linux=cri.LinuxPodSandboxStatus(
            namespaces=cri.Namespace(
                options=namespace_options(sandbox.config.security.namespace_options)
            )
        ),
        labels=sandbox.config.labels,
        annotations=sandbox.config.annotations,
        runtime_handler=sandbox.runtime_handler,
    )


def sandbox_info(sandbox: Sandbox, reconciling: bool = False) -> dict[str, str]:
    return info(
        {
            "id": sandbox.id,
            "reconciling": reconciling,
            "pid": sandbox.pid,
            "netnsPath": sandbox.netns_path,
            "ips": list(sandbox.ips),
            "runtimeHandler": sandbox.runtime_handler,
            "config": sandbox.config.model_dump(mode="json"),
        }
    )


# --- containers -----------------------------------------------------------------------------


def container_metadata(container: Container) -> cri.ContainerMetadata:
    m = container.config.metadata
    return cri.ContainerMetadata(name=m.name, attempt=m.attempt)


def image_spec(container: Container, image: Image | None = None) -> cri.ImageSpec:
    """What the container runs: the image's first tag when known (as containerd reports),
    else the reference the container was created with."""
    name = image.repo_tags[0] if image is not None and image.repo_tags else container.config.image
    return cri.ImageSpec(image=name, user_specified_image=container.config.image)


def cri_container(container: Container, image: Image | None = None) -> cri.Container:
    return cri.Container(
        id=container.id,
        pod_sandbox_id=container.sandbox_id,
        metadata=container_metadata(container),
        image=image_spec(container, image),
        image_ref=container.image_ref,
        image_id=container.image_id,
        state=container.state.value,  # type: ignore[arg-type]
        created_at=container.created_at,
        labels=container.config.labels,
        annotations=container.config.annotations,
    )


def mount(m: Mount) -> cri.Mount:
    return cri.Mount(
        container_path=m.container_path,
        host_path=m.host_path,
        readonly=m.readonly,
        selinux_relabel=m.selinux_relabel,
        propagation=m.propagation.value,  # type: ignore[arg-type]
    )


def log_path(container: Container, sandbox: Sandbox | None) -> str:
    """The absolute log path: the sandbox's log directory joined with the container's path
    ("" when either is empty: then the container keeps no log)."""
    if sandbox is None:
        return container.config.log_path
    return effective_log_path(sandbox.config.log_directory, container.config.log_path)


def container_status(
    container: Container, sandbox: Sandbox | None, image: Image | None = None
) -> cri.ContainerStatus:
    resources = container.resources
    return cri.ContainerStatus(
        id=container.id,
        metadata=container_metadata(container),
        state=container.state.value,  # type: ignore[arg-type]
        created_at=container.created_at,
        started_at=container.started_at,
        finished_at=container.finished_at,
        exit_code=container.exit_code,
        image=image_spec(container, image),
        image_ref=container.image_ref,
        image_id=container.image_id,
        reason=container.reason,
        message=container.message,
        labels=container.config.labels,
        annotations=container.config.annotations,
        mounts=[mount(m) for m in container.config.mounts],
        log_path=log_path(container, sandbox),
        resources=(
            cri.ContainerResources(linux=linux_resources(resources))
            if resources is not None
            else None
        ),
        stop_signal=signals.to_cri(container.config.stop_signal),  # type: ignore[arg-type]
    )


def container_info(container: Container, reconciling: bool = False) -> dict[str, str]:
    return info(
        {
            "id": container.id,
            "reconciling": reconciling,
            "sandboxID": container.sandbox_id,
            "pid": container.pid,
            "oomKilled": container.oom_killed,
            "config": container.config.model_dump(mode="json"),
        }
    )


# --- stats ----------------------------------------------------------------------------------


def container_stats(container: Container, stats: ContainerStats) -> cri.ContainerStats:
    t = stats.timestamp
    return cri.ContainerStats(
        attributes=cri.ContainerAttributes(
            id=container.id,
            metadata=container_metadata(container),
            labels=container.config.labels,
            annotations=container.config.annotations,
        ),
        cpu=cpu_usage(stats),
        memory=memory_usage(stats),
        writable_layer=cri.FilesystemUsage(
            timestamp=t,
            fs_id=cri.FilesystemIdentifier(mountpoint=stats.writable_layer_mountpoint),
            used_bytes=_uint64(stats.writable_layer_bytes),
            inodes_used=_uint64(stats.writable_layer_inodes),
        ),
    )


def cpu_usage(stats: ContainerStats) -> cri.CpuUsage:
    return cri.CpuUsage(
        timestamp=stats.timestamp,
        usage_core_nano_seconds=_uint64(stats.cpu_usage_core_ns),
        usage_nano_cores=_uint64(stats.cpu_usage_nano_cores),
    )


def memory_usage(stats: ContainerStats) -> cri.MemoryUsage:
    return cri.MemoryUsage(
        timestamp=stats.timestamp,
        working_set_bytes=_uint64(stats.memory_working_set_bytes),
        available_bytes=_uint64(stats.memory_available_bytes),
        usage_bytes=_uint64(stats.memory_usage_bytes),
        rss_bytes=_uint64(stats.memory_rss_bytes),
        page_faults=_uint64(stats.memory_page_faults),
        major_page_faults=_uint64(stats.memory_major_page_faults),
    )


def interface_usage(stats: InterfaceStats) -> cri.NetworkInterfaceUsage:
    return cri.NetworkInterfaceUsage(
        name=stats.name,
        rx_bytes=_uint64(stats.rx_bytes),
        rx_errors=_uint64(stats.rx_errors),
        tx_bytes=_uint64(stats.tx_bytes),
        tx_errors=_uint64(stats.tx_errors),
    )


def pod_sandbox_stats(
    sandbox: Sandbox, stats: PodStats, containers: Sequence[tuple[Container, ContainerStats]]
) -> cri.PodSandboxStats:
    """The pod's own stats and its containers' (`containers`: those still known)."""
    t = stats.timestamp
    network = None
    if stats.interfaces:
        default, *others = stats.interfaces
        network = cri.NetworkUsage(
            timestamp=t,
            default_interface=interface_usage(default),
            interfaces=[interface_usage(i) for i in others],
        )
    return cri.PodSandboxStats(
        attributes=cri.PodSandboxAttributes(
            id=sandbox.id,
            metadata=sandbox_metadata(sandbox),
            labels=sandbox.config.labels,
            annotations=sandbox.config.annotations,
        ),
        linux=cri.LinuxPodSandboxStats(
            cpu=cpu_usage(stats.usage),
            memory=memory_usage(stats.usage),
            network=network,
            process=cri.ProcessUsage(timestamp=t, process_count=_uint64(stats.process_count)),
            containers=[container_stats(c, s) for c, s in containers],
        ),
    )


def filesystem_usage(usage: FilesystemUsage) -> cri.FilesystemUsage:
    return cri.FilesystemUsage(
        timestamp=usage.timestamp,
        fs_id=cri.FilesystemIdentifier(mountpoint=usage.mountpoint),
        used_bytes=_uint64(usage.used_bytes),
        inodes_used=_uint64(usage.inodes_used),
    )


# --- images, events, runtime ----------------------------------------------------------------


def cri_image(image: Image) -> cri.Image:
    uid = image.uid
    return cri.Image(
        id=image.id,
        repo_tags=image.repo_tags,
        repo_digests=image.repo_digests,
        size=image.size,
        uid=cri.Int64Value(value=uid) if uid is not None else None,
        username=image.username,
        spec=cri.ImageSpec(image=image.id),
        pinned=image.pinned,
    )


def image_info(image: Image) -> dict[str, str]:
    return info(
        {
            "id": image.id,
            "chainID": image.chain_id,
            "imageSpec": {"config": image.config.model_dump(mode="json")},
        }
    )


def container_event(
    event: ContainerEvent,
    sandbox: Sandbox | None,
    containers: Iterable[tuple[Container, Image | None]],
) -> cri.ContainerEventResponse:
    """An event with the pod's current status, as kubelet's evented PLEG reads it."""
    return cri.ContainerEventResponse(
        container_id=event.container_id,
        container_event_type=event.type.value,  # type: ignore[arg-type]
        created_at=event.created_at,
        pod_sandbox_status=pod_sandbox_status(sandbox) if sandbox is not None else None,
        containers_statuses=[container_status(c, sandbox, i) for c, i in containers],
    )


def runtime_condition(condition: Condition) -> cri.RuntimeCondition:
    return cri.RuntimeCondition(
        type=condition.type,
        status=condition.status,
        reason=condition.reason,
        message=condition.message,
    )
