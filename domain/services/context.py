"""What every use case works with: the ports, the settings and the in-memory stores."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.eventbus import EventBus
from domain.model import Frozen
from domain.names import NameRegistry
from domain.reference import parse
from domain.services.cleanup import Cleanups
from domain.services.locks import ObjectLocks
from domain.services.unit_of_work import PodRepository
from domain.sharing import SharedWork
from domain.spec import NodeOptions
from domain.stats import CpuRates
from domain.store import ContainerStore, ExitSignals, ImageIndex, SandboxStore
from ports.clock import Clock
from ports.devices import HostDeviceLookup
from ports.events import RuntimeEvents
from ports.files import SandboxFiles
from ports.images import ImagePuller, ImageStore
from ports.io import ContainerIO
from ports.network import NetworkNamespaces, PodNetwork
from ports.profiles import SecurityProfiles
from ports.runtime import ContainerRuntime
from ports.state import StateStore


@dataclass(frozen=True, slots=True)
class Ports:
    """Every outbound port, as the composition root wires them."""

    runtime: ContainerRuntime
    io: ContainerIO
    events: RuntimeEvents
    netns: NetworkNamespaces
    network: PodNetwork
    images: ImageStore
    puller: ImagePuller
    state: StateStore
    files: SandboxFiles
    devices: HostDeviceLookup
    profiles: SecurityProfiles
    clock: Clock


class Settings(Frozen):
    """Runtime-wide settings the use cases need."""

    runtime_name: str = "hexcri"
    runtime_version: str = "0.1.0"
    sandbox_image: str = "registry.k8s.io/pause:3.9"
    cgroup_driver: str = "cgroupfs"
    stop_kill_wait: float = 10.0  # seconds to wait for an exit after SIGKILL
    shm_size: int = 64 << 20  # the pod's /dev/shm, as containerd's default
    # The runtime handlers RunPodSandbox accepts: "" (the default) and containerd's name
    # for the same runc runtime.
    runtime_handlers: tuple[str, ...] = ("", "runc")
    node: NodeOptions = NodeOptions()


@dataclass
class Context:
    """The ports, settings, stores and bookkeeping shared by all use cases."""

    ports: Ports
    settings: Settings = field(default_factory=Settings)
    images: ImageIndex = field(default_factory=ImageIndex)
    bus: EventBus = field(default_factory=EventBus)
    # Pulls in flight by reference, so that concurrent pulls of one image share one download.
    # Stopped once none of their clients waits any more.
    pulls: SharedWork[str] = field(default_factory=SharedWork)
    # One lock per sandbox and container: operations on one object are serialised.
    locks: ObjectLocks = field(default_factory=ObjectLocks)
    # The previous cpu sample of each container and pod, for the stats' usage_nano_cores.
    cpu_rates: CpuRates = field(default_factory=CpuRates)
    # Sandbox and container IDs restored from the record that recovery has not yet matched
    # with the runtime: listed with their recorded state, marked as being reconciled.
    reconciling: set[str] = field(default_factory=set)
    # What removals leave in the runtime, cleaned up after the answer.
    cleanups: Cleanups = field(default_factory=Cleanups)

    # The pods: their durable record and the in-memory view, written by units of work.
    pods: PodRepository = field(init=False)

    def __post_init__(self) -> None:
        self.images.pin(str(parse(self.settings.sandbox_image)))
        self.pods = PodRepository(self.ports.state, self.ports.clock, self.bus)

    @property
    def sandboxes(self) -> SandboxStore:
        return self.pods.sandboxes

    @property
    def containers(self) -> ContainerStore:
        return self.pods.containers

    @property
    def names(self) -> NameRegistry:
        """Names held by objects being created or listed; released on removal or rollback."""
        return self.pods.names

    @property
    def exits(self) -> ExitSignals:
        return self.pods.exits
