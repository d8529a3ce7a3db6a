"""CRI protobuf requests → domain values: pure functions, InvalidArgument for malformed input.

proto3 leaves every field optional; a message the domain needs (a config, its metadata) that
is absent is a client mistake, reported as InvalidArgument rather than read as defaults.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from typing import TypeVar

from cri_api.v1 import api_pb2 as cri
from google.protobuf.message import Message

from adapters.cri import signals
from domain.errors import InvalidArgument
from domain.filters import ContainerFilter, SandboxFilter
from domain.model import (
    LOCALHOST,
    RUNTIME_DEFAULT,
    UNCONFINED,
    AuthConfig,
    Capabilities,
    ContainerConfig,
    ContainerMetadata,
    ContainerSecurity,
    ContainerState,
    Device,
    DNSConfig,
    HugepageLimit,
    IdMapping,
    KeyValue,
    LinuxResources,
    Mount,
    NamespaceMode,
    NamespaceOptions,
    PortMapping,
    Propagation,
    Protocol,
    SandboxConfig,
    SandboxMetadata,
    SandboxSecurity,
    SandboxState,
    SecurityProfile,
    UserNamespace,
)
from domain.validation.text import quote

E = TypeVar("E", bound=IntEnum)

_PROFILE_KINDS = {
    cri.SecurityProfile.RuntimeDefault: RUNTIME_DEFAULT,
    cri.SecurityProfile.Unconfined: UNCONFINED,
    cri.SecurityProfile.Localhost: LOCALHOST,
}


def require(message: Message, field: str, what: str) -> None:
    """InvalidArgument unless the sub-message `field` of `message` is present."""
    if not message.HasField(field):
        raise InvalidArgument(f"{what} is required")


def enum_value(cls: type[E], value: int, what: str) -> E:
    """A domain enum from a protobuf enum number; unknown numbers are InvalidArgument."""
    try:
        return cls(value)
    except ValueError:
        raise InvalidArgument(f"unknown {what} {value}") from None


def _optional_int(message: Message, field: str) -> int | None:
    """The value of an Int64Value field, or None when unset."""
    return getattr(message, field).value if message.HasField(field) else None


# --- shared pieces --------------------------------------------------------------------------


def _id_mappings(mappings: Iterable[cri.IDMapping]) -> tuple[IdMapping, ...]:
    return tuple(
        IdMapping(container_id=m.container_id, host_id=m.host_id, length=m.length) for m in mappings
    )


def user_namespace(msg: cri.UserNamespace) -> UserNamespace:
    return UserNamespace(
        mode=enum_value(NamespaceMode, msg.mode, "user namespace mode"),
        uids=_id_mappings(msg.uids),
        gids=_id_mappings(msg.gids),
    )


def namespace_options(msg: cri.NamespaceOption) -> NamespaceOptions:
    return NamespaceOptions(
        network=enum_value(NamespaceMode, msg.network, "network namespace mode"),
        pid=enum_value(NamespaceMode, msg.pid, "pid namespace mode"),
        ipc=enum_value(NamespaceMode, msg.ipc, "ipc namespace mode"),
        target_id=msg.target_id,
        userns=user_namespace(msg.userns_options) if msg.HasField("userns_options") else None,
    )


def linux_resources(msg: cri.LinuxContainerResources) -> LinuxResources:
    return LinuxResources(
        cpu_period=msg.cpu_period,
        cpu_quota=msg.cpu_quota,
        cpu_shares=msg.cpu_shares,
        memory_limit_in_bytes=msg.memory_limit_in_bytes,
        memory_swap_limit_in_bytes=msg.memory_swap_limit_in_bytes,
        oom_score_adj=msg.oom_score_adj,
        cpuset_cpus=msg.cpuset_cpus,
        cpuset_mems=msg.cpuset_mems,
        hugepage_limits=tuple(
            HugepageLimit(page_size=h.page_size, limit=h.limit) for h in msg.hugepage_limits
        ),
        unified=dict(msg.unified),
    )


def _deprecated_profile(path: str, localhost_prefix: str = "localhost/") -> SecurityProfile:
    """The pre-1.19 string form: `runtime/default`, `unconfined`, `localhost/<ref>`."""
    if path in ("", "unconfined"):
        return SecurityProfile(kind=UNCONFINED)
    if path in ("runtime/default", "docker/default"):
        return SecurityProfile(kind=RUNTIME_DEFAULT)
    if path.startswith(localhost_prefix):
        return SecurityProfile(kind=LOCALHOST, localhost_ref=path.removeprefix(localhost_prefix))
    raise InvalidArgument(f"invalid security profile {quote(path)}")


def security_profile(msg: cri.SecurityProfile, what: str) -> SecurityProfile:
    kind = _PROFILE_KINDS.get(msg.profile_type)
    if kind is None:
        raise InvalidArgument(f"unknown {what} profile type {msg.profile_type}")
    if kind == LOCALHOST and not msg.localhost_ref:
        raise InvalidArgument(f"{what} profile Localhost needs a localhost_ref")
    return SecurityProfile(kind=kind, localhost_ref=msg.localhost_ref if kind == LOCALHOST else "")


def _seccomp(
    ctx: cri.LinuxSandboxSecurityContext | cri.LinuxContainerSecurityContext,
) -> SecurityProfile:
    if ctx.HasField("seccomp"):
        return security_profile(ctx.seccomp, "seccomp")
    return _deprecated_profile(ctx.seccomp_profile_path)


def _apparmor(ctx: cri.LinuxContainerSecurityContext) -> SecurityProfile:
    if ctx.HasField("apparmor"):
        return security_profile(ctx.apparmor, "apparmor")
    return _deprecated_profile(ctx.apparmor_profile)


# --- sandboxes ------------------------------------------------------------------------------


def sandbox_metadata(msg: cri.PodSandboxMetadata) -> SandboxMetadata:
    return SandboxMetadata(name=msg.name, uid=msg.uid, namespace=msg.namespace, attempt=msg.attempt)


def port_mapping(msg: cri.PortMapping) -> PortMapping:
    names = {cri.TCP: Protocol.TCP, cri.UDP: Protocol.UDP, cri.SCTP: Protocol.SCTP}
    protocol = names.get(msg.protocol)
    if protocol is None:
        raise InvalidArgument(f"unknown port protocol {msg.protocol}")
    if not 0 <= msg.container_port <= 65535 or not 0 <= msg.host_port <= 65535:
        raise InvalidArgument(f"port mapping {msg.host_port}:{msg.container_port} out of range")
    return PortMapping(
        protocol=protocol,
        container_port=msg.container_port,
        host_port=msg.host_port,
        host_ip=msg.host_ip,
    )


def sandbox_security(msg: cri.LinuxSandboxSecurityContext) -> SandboxSecurity:
    return SandboxSecurity(
        namespace_options=namespace_options(msg.namespace_options),
        privileged=msg.privileged,
        run_as_user=_optional_int(msg, "run_as_user"),
        run_as_group=_optional_int(msg, "run_as_group"),
        readonly_rootfs=msg.readonly_rootfs,
        supplemental_groups=tuple(msg.supplemental_groups),
        seccomp=_seccomp(msg),
    )


def sandbox_config(msg: cri.PodSandboxConfig) -> SandboxConfig:
    """A PodSandboxConfig; its metadata must be present."""
    require(msg, "metadata", "sandbox config metadata")
    linux = msg.linux
    return SandboxConfig(
        metadata=sandbox_metadata(msg.metadata),
        hostname=msg.hostname,
        log_directory=msg.log_directory,
        dns_config=(
            DNSConfig(
                servers=tuple(msg.dns_config.servers),
                searches=tuple(msg.dns_config.searches),
                options=tuple(msg.dns_config.options),
            )
            if msg.HasField("dns_config")
            else None
        ),
        port_mappings=tuple(port_mapping(p) for p in msg.port_mappings),
        labels=dict(msg.labels),
        annotations=dict(msg.annotations),
        cgroup_parent=linux.cgroup_parent,
        security=sandbox_security(linux.security_context),
        sysctls=dict(linux.sysctls),
        overhead=linux_resources(linux.overhead) if linux.HasField("overhead") else None,
        resources=linux_resources(linux.resources) if linux.HasField("resources") else None,
    )


# --- containers -----------------------------------------------------------------------------


def mount(msg: cri.Mount) -> Mount:
    return Mount(
        container_path=msg.container_path,
        host_path=msg.host_path,
        readonly=msg.readonly,
        selinux_relabel=msg.selinux_relabel,
        propagation=enum_value(Propagation, msg.propagation, "mount propagation"),
        recursive_read_only=msg.recursive_read_only,
        image=msg.image.image if msg.HasField("image") else "",
    )


def device(msg: cri.Device) -> Device:
    return Device(
        container_path=msg.container_path,
        host_path=msg.host_path,
        permissions=msg.permissions or "rwm",
    )


def container_security(msg: cri.LinuxContainerSecurityContext) -> ContainerSecurity:
    caps = msg.capabilities
    return ContainerSecurity(
        capabilities=Capabilities(
            add=tuple(caps.add_capabilities),
            drop=tuple(caps.drop_capabilities),
            add_ambient=tuple(caps.add_ambient_capabilities),
        ),
        privileged=msg.privileged,
        namespace_options=namespace_options(msg.namespace_options),
        run_as_user=_optional_int(msg, "run_as_user"),
        run_as_username=msg.run_as_username,
        run_as_group=_optional_int(msg, "run_as_group"),
        readonly_rootfs=msg.readonly_rootfs,
        supplemental_groups=tuple(msg.supplemental_groups),
        no_new_privs=msg.no_new_privs,
        masked_paths=tuple(msg.masked_paths),
        readonly_paths=tuple(msg.readonly_paths),
        seccomp=_seccomp(msg),
        apparmor=_apparmor(msg),
    )


def container_config(msg: cri.ContainerConfig) -> ContainerConfig:
    """A ContainerConfig; its metadata and image must be present."""
    require(msg, "metadata", "container config metadata")
    require(msg, "image", "container config image")
    linux = msg.linux
    return ContainerConfig(
        metadata=ContainerMetadata(name=msg.metadata.name, attempt=msg.metadata.attempt),
        image=msg.image.image,
        command=tuple(msg.command),
        args=tuple(msg.args),
        working_dir=msg.working_dir,
        envs=tuple(KeyValue(key=e.key, value=e.value) for e in msg.envs),
        mounts=tuple(mount(m) for m in msg.mounts),
        devices=tuple(device(d) for d in msg.devices),
        labels=dict(msg.labels),
        annotations=dict(msg.annotations),
        log_path=msg.log_path,
        stdin=msg.stdin,
        stdin_once=msg.stdin_once,
        tty=msg.tty,
        resources=linux_resources(linux.resources) if linux.HasField("resources") else None,
        security=container_security(linux.security_context),
        stop_signal=signals.to_domain(msg.stop_signal),
    )


# --- filters and auth -----------------------------------------------------------------------


def sandbox_filter(msg: cri.PodSandboxFilter | cri.PodSandboxStatsFilter) -> SandboxFilter:
    state = None
    if isinstance(msg, cri.PodSandboxFilter) and msg.HasField("state"):
        state = enum_value(SandboxState, msg.state.state, "sandbox state")
        if state != state.shown:  # UNKNOWN is the domain's, shown as NOTREADY
            raise InvalidArgument(f"unknown sandbox state {msg.state.state}")
    return SandboxFilter(id=msg.id, state=state, label_selector=dict(msg.label_selector))


def container_filter(msg: cri.ContainerFilter | cri.ContainerStatsFilter) -> ContainerFilter:
    state = None
    if isinstance(msg, cri.ContainerFilter) and msg.HasField("state"):
        state = enum_value(ContainerState, msg.state.state, "container state")
    return ContainerFilter(
        id=msg.id,
        state=state,
        sandbox_id=msg.pod_sandbox_id,
        label_selector=dict(msg.label_selector),
    )


def auth_config(msg: cri.AuthConfig) -> AuthConfig:
    return AuthConfig(
        username=msg.username,
        password=msg.password,
        auth=msg.auth,
        server_address=msg.server_address,
        identity_token=msg.identity_token,
        registry_token=msg.registry_token,
    )
