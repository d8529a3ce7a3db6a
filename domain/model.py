"""The model: pod sandboxes, containers and images, their configs, states and transitions.

Configs are frozen pydantic models translated from the CRI request by the inbound adapter;
entities (Sandbox, Container, Image) carry the mutable status the runtime reports.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from enum import Enum, IntEnum

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from domain.errors import FailedPrecondition


class Frozen(BaseModel):
    """Base for immutable value objects."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Entity(BaseModel):
    """Base for mutable entities."""

    model_config = ConfigDict(extra="forbid")


# --- value objects shared by sandboxes and containers -------------------------------------


class NamespaceMode(IntEnum):
    """CRI NamespaceMode: which namespace a container joins."""

    POD = 0
    CONTAINER = 1
    NODE = 2
    TARGET = 3


class IdMapping(Frozen):
    """One range of a user namespace's uid or gid map."""

    container_id: int
    host_id: int
    length: int


class UserNamespace(Frozen):
    """CRI UserNamespace: NODE (the host's) or POD (its own, with these mappings)."""

    mode: NamespaceMode = NamespaceMode.NODE
    uids: tuple[IdMapping, ...] = ()
    gids: tuple[IdMapping, ...] = ()


class NamespaceOptions(Frozen):
    network: NamespaceMode = NamespaceMode.POD
    pid: NamespaceMode = NamespaceMode.CONTAINER
    ipc: NamespaceMode = NamespaceMode.POD
    target_id: str = ""
    userns: UserNamespace | None = None


class Protocol(str, Enum):
    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


class PortMapping(Frozen):
    protocol: Protocol = Protocol.TCP
    container_port: int = 0
    host_port: int = 0
    host_ip: str = ""


class DNSConfig(Frozen):
    servers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


class HugepageLimit(Frozen):
    page_size: str
    limit: int


class LinuxResources(Frozen):
    """CRI LinuxContainerResources; zero means "not set" as in the CRI."""

    cpu_period: int = 0
    cpu_quota: int = 0
    cpu_shares: int = 0
    memory_limit_in_bytes: int = 0
    memory_swap_limit_in_bytes: int = 0
    oom_score_adj: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    hugepage_limits: tuple[HugepageLimit, ...] = ()
    unified: dict[str, str] = Field(default_factory=dict)

    def overlaid(self, update: LinuxResources) -> LinuxResources:
        """These resources with the fields `update` sets over them: what a container has
        after UpdateContainerResources (containerd applies an update to the spec alike)."""
        unset = LinuxResources()
        return self.model_copy(update={k: v for k, v in update if v != getattr(unset, k)})


class Capabilities(Frozen):
    add: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    add_ambient: tuple[str, ...] = ()


RUNTIME_DEFAULT = "RuntimeDefault"
UNCONFINED = "Unconfined"
LOCALHOST = "Localhost"


class SecurityProfile(Frozen):
    """Seccomp or AppArmor profile: RuntimeDefault, Unconfined or Localhost with a path."""

    kind: str = "Unconfined"
    localhost_ref: str = ""


class SandboxSecurity(Frozen):
    namespace_options: NamespaceOptions = NamespaceOptions()
    privileged: bool = False
    run_as_user: int | None = None
    run_as_group: int | None = None
    readonly_rootfs: bool = False
    supplemental_groups: tuple[int, ...] = ()
    seccomp: SecurityProfile = SecurityProfile()


class ContainerSecurity(Frozen):
    capabilities: Capabilities = Capabilities()
    privileged: bool = False
    namespace_options: NamespaceOptions = NamespaceOptions()
    run_as_user: int | None = None
    run_as_username: str = ""
    run_as_group: int | None = None
    readonly_rootfs: bool = False
    supplemental_groups: tuple[int, ...] = ()
    no_new_privs: bool = False
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    seccomp: SecurityProfile = SecurityProfile()
    apparmor: SecurityProfile = SecurityProfile()


class Propagation(IntEnum):
    PRIVATE = 0
    HOST_TO_CONTAINER = 1
    BIDIRECTIONAL = 2


class Mount(Frozen):
    container_path: str
    host_path: str
    readonly: bool = False
    selinux_relabel: bool = False
    propagation: Propagation = Propagation.PRIVATE
    recursive_read_only: bool = False
    image: str = ""  # an image volume (CRI Mount.image): refused, hexcri has none


class Device(Frozen):
    container_path: str
    host_path: str
    permissions: str = "rwm"


class KeyValue(Frozen):
    key: str
    value: str


# --- sandboxes ------------------------------------------------------------------------------


class SandboxMetadata(Frozen):
    name: str
    uid: str
    namespace: str
    attempt: int = 0


class SandboxConfig(Frozen):
    metadata: SandboxMetadata
    hostname: str = ""
    log_directory: str = ""
    dns_config: DNSConfig | None = None
    port_mappings: tuple[PortMapping, ...] = ()
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    cgroup_parent: str = ""
    security: SandboxSecurity = SandboxSecurity()
    sysctls: dict[str, str] = Field(default_factory=dict)
    overhead: LinuxResources | None = None
    resources: LinuxResources | None = None

    @property
    def host_network(self) -> bool:
        return self.security.namespace_options.network == NamespaceMode.NODE

    def reserved_name(self) -> str:
        """`name_namespace_uid_attempt`, the name kubelet may hold only once."""
        m = self.metadata
        return f"{m.name}_{m.namespace}_{m.uid}_{m.attempt}"


class SandboxState(IntEnum):
    READY = 0
    NOTREADY = 1
    # A sandbox whose creation failed and whose undo failed too: listed (the CRI shows it
    # NOTREADY, as containerd does) with what is left of it, for a Stop/Remove to finish.
    UNKNOWN = 2

    @property
    def shown(self) -> SandboxState:
        """The state as the CRI shows it (READY or NOTREADY)."""
        return SandboxState.NOTREADY if self == SandboxState.UNKNOWN else self


class Sandbox(Entity):
    """A pod sandbox: its config, the runtime handler, its network and its state."""

    id: str
    config: SandboxConfig
    runtime_handler: str = ""
    state: SandboxState = SandboxState.NOTREADY
    created_at: int = 0
    netns_path: str = ""
    ips: tuple[str, ...] = ()
    pid: int = 0
    # False while RunPodSandbox is in flight: recovery rolls back what is not committed.
    committed: bool = False
    # Domain events its transitions queued (none yet: the CRI's event stream is of
    # containers), published when a unit of work commits them.
    _events: list[ContainerEventType] = PrivateAttr(default_factory=list)

    @property
    def events(self) -> list[ContainerEventType]:
        return self._events

    @property
    def name(self) -> str:
        return self.config.reserved_name()

    def mark_ready(self, pid: int) -> None:
        self.state = SandboxState.READY
        self.pid = pid

    def mark_not_ready(self) -> None:
        self.state = SandboxState.NOTREADY

    def mark_committed(self) -> None:
        self.committed = True

    def mark_unknown(self) -> None:
        """Its creation failed half-way and could not be undone entirely."""
        self.state = SandboxState.UNKNOWN


# --- containers -----------------------------------------------------------------------------


class ContainerMetadata(Frozen):
    name: str
    attempt: int = 0


class ContainerConfig(Frozen):
    metadata: ContainerMetadata
    image: str
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    working_dir: str = ""
    envs: tuple[KeyValue, ...] = ()
    mounts: tuple[Mount, ...] = ()
    devices: tuple[Device, ...] = ()
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    log_path: str = ""
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False
    resources: LinuxResources | None = None
    security: ContainerSecurity = ContainerSecurity()
    stop_signal: str = ""


class ContainerEventType(IntEnum):
    CREATED = 0
    STARTED = 1
    STOPPED = 2
    DELETED = 3


class ContainerState(IntEnum):
    CREATED = 0
    RUNNING = 1
    EXITED = 2
    UNKNOWN = 3


class ExitReason(str, Enum):
    COMPLETED = "Completed"
    ERROR = "Error"
    OOM_KILLED = "OOMKilled"
    START_ERROR = "StartError"


class Container(Entity):
    """A container of a sandbox, with the status the runtime reported for it."""

    id: str
    sandbox_id: str
    config: ContainerConfig
    image_id: str = ""
    image_ref: str = ""
    state: ContainerState = ContainerState.CREATED
    created_at: int = 0
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    pid: int = 0
    oom_killed: bool = False
    resources: LinuxResources | None = None
    # False while CreateContainer is in flight: recovery rolls back what is not committed.
    committed: bool = False
    # Domain events its transitions queued, published when a unit of work commits them.
    _events: list[ContainerEventType] = PrivateAttr(default_factory=list)

    @property
    def events(self) -> list[ContainerEventType]:
        return self._events

    def mark_committed(self) -> None:
        """Its creation is complete: CREATED."""
        self.committed = True
        self._events.append(ContainerEventType.CREATED)

    def mark_unknown(self) -> None:
        """Its creation failed half-way and could not be undone entirely."""
        self.state = ContainerState.UNKNOWN

    def mark_removed(self) -> None:
        self._events.append(ContainerEventType.DELETED)

    def mark_started(self, pid: int, at: int) -> None:
        if self.state not in (ContainerState.CREATED, ContainerState.EXITED):
            raise FailedPrecondition(
                f"container {self.id} is {self.state.name}, only a CREATED container can start"
            )
        if self.state == ContainerState.CREATED:
            self.state = ContainerState.RUNNING
            self.started_at = at
        else:  # the exit event overtook the start reply: it started before it finished
            self.started_at = min(at, self.finished_at)
        self.pid = pid
        self._events.append(ContainerEventType.STARTED)

    def mark_exited(self, exit_code: int, at: int, message: str = "") -> None:
        """Record the exit once; later reports of the same exit change nothing."""
        if self.state == ContainerState.EXITED:
            return
        self.state = ContainerState.EXITED
        self.exit_code = exit_code
        self.finished_at = at
        if self.oom_killed:
            self.reason = ExitReason.OOM_KILLED.value
        elif exit_code == 0:
            self.reason = ExitReason.COMPLETED.value
        else:
            self.reason = ExitReason.ERROR.value
        if message:
            self.message = message
        self._events.append(ContainerEventType.STOPPED)

    def mark_start_failed(self, message: str, at: int) -> None:
        self.state = ContainerState.EXITED
        self.exit_code = 128
        self.finished_at = at
        self.reason = ExitReason.START_ERROR.value
        self.message = message


# --- images ---------------------------------------------------------------------------------


class ImageConfig(Frozen):
    """The part of an OCI image config a runtime uses."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""
    stop_signal: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    volumes: tuple[str, ...] = ()
    exposed_ports: tuple[str, ...] = ()


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """The OCI ChainID of every layer: ChainID(n) = sha256(ChainID(n-1) + " " + DiffID(n))."""
    out: list[str] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {diff_id}".encode()).hexdigest())
    return out


class Image(Entity):
    """An image held by the node, identified by its config digest."""

    id: str
    repo_tags: tuple[str, ...] = ()
    repo_digests: tuple[str, ...] = ()
    size: int = 0
    config: ImageConfig = ImageConfig()
    pinned: bool = False
    # The config's `rootfs.diff_ids`: the digests of the uncompressed layers, bottom first.
    diff_ids: tuple[str, ...] = ()

    @property
    def chain_id(self) -> str:
        """The OCI ChainID of the image's rootfs (of its top layer); "" without layers."""
        chains = chain_ids(self.diff_ids)
        return chains[-1] if chains else ""

    @property
    def uid(self) -> int | None:
        """The numeric user of the image's USER, when it is numeric."""
        user = self.config.user.split(":", 1)[0]
        return int(user) if user.isdigit() else None

    @property
    def username(self) -> str:
        user = self.config.user.split(":", 1)[0]
        return "" if (not user or user.isdigit()) else user


class AuthConfig(Frozen):
    username: str = ""
    password: str = ""
    auth: str = ""
    server_address: str = ""
    identity_token: str = ""
    registry_token: str = ""


class FilesystemUsage(Frozen):
    mountpoint: str
    timestamp: int
    used_bytes: int
    inodes_used: int


# --- runtime reports ------------------------------------------------------------------------


class ExecResult(Frozen):
    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0


class ContainerStats(Frozen):
    """A sample of one container's cgroup and writable layer (as containerd's CRI reports
    them). `cpu_usage_nano_cores` is a rate: the domain derives it from the previous sample of
    the same container (0 for the first). `memory_limit_bytes` 0 is "no limit"."""

    container_id: str
    timestamp: int
    cpu_usage_core_ns: int = 0
    cpu_usage_nano_cores: int = 0
    memory_working_set_bytes: int = 0
    memory_usage_bytes: int = 0
    memory_limit_bytes: int = 0
    memory_rss_bytes: int = 0
    memory_page_faults: int = 0
    memory_major_page_faults: int = 0
    process_count: int = 0
    writable_layer_mountpoint: str = ""
    writable_layer_bytes: int = 0
    writable_layer_inodes: int = 0

    @property
    def memory_available_bytes(self) -> int:
        """Limit minus working set when there is a limit, else 0 (as containerd)."""
        if not self.memory_limit_bytes:
            return 0
        return max(0, self.memory_limit_bytes - self.memory_working_set_bytes)


class InterfaceStats(Frozen):
    """A network interface's counters, read in a pod's network namespace."""

    name: str
    rx_bytes: int = 0
    rx_errors: int = 0
    tx_bytes: int = 0
    tx_errors: int = 0


class PodStats(Frozen):
    """A pod's cpu and memory (`usage`: its pause and containers together), its network
    interfaces (the default one first, loopback left out), its process count and its
    containers."""

    sandbox_id: str
    timestamp: int
    usage: ContainerStats
    interfaces: tuple[InterfaceStats, ...] = ()
    process_count: int = 0
    containers: tuple[ContainerStats, ...] = ()


class TaskStatus(IntEnum):
    """What the runtime knows of a container's task."""

    CREATED = 0
    RUNNING = 1
    STOPPED = 2
    UNKNOWN = 3
    ABSENT = 4


class RuntimeContainer(Frozen):
    """A container as the runtime lists it, for recovery."""

    id: str
    labels: dict[str, str] = Field(default_factory=dict)
    task: TaskStatus = TaskStatus.ABSENT
    pid: int = 0
    exit_code: int = 0
    exited_at: int = 0


class TaskExit(Frozen):
    """A task exit event."""

    container_id: str
    exit_code: int
    exited_at: int
    pid: int = 0


class TaskOOM(Frozen):
    container_id: str


class ContainerEvent(Frozen):
    """What GetContainerEvents streams to kubelet's evented PLEG."""

    container_id: str
    type: ContainerEventType
    created_at: int
    sandbox_id: str


class Condition(Frozen):
    type: str
    status: bool
    reason: str = ""
    message: str = ""


class NetworkResult(Frozen):
    ips: tuple[str, ...] = ()
