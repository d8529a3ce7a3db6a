"""Every memory fake, wired together as one backend."""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.memory.clock import FakeClock
from adapters.memory.devices import MemoryDeviceLookup
from adapters.memory.files import MemorySandboxFiles
from adapters.memory.images import MemoryImageStore, MemoryRegistry
from adapters.memory.io import MemoryIO
from adapters.memory.logs import MemoryLogFiles
from adapters.memory.network import MemoryNamespaces, MemoryNetwork
from adapters.memory.profiles import MemorySecurityProfiles
from adapters.memory.runtime import MemoryRuntime
from adapters.memory.state import MemoryStateStore
from domain.logformat import MAX_RECORD
from domain.services.context import Ports
from domain.stdio import ContainerStdio
from ports.clock import Clock


@dataclass
class MemoryBackend:
    """The fakes, reachable by name so tests can drive and inspect them."""

    clock: Clock = field(default_factory=FakeClock)
    registry: MemoryRegistry = field(default_factory=MemoryRegistry)
    netns: MemoryNamespaces = field(default_factory=MemoryNamespaces)
    state: MemoryStateStore = field(default_factory=MemoryStateStore)
    files: MemorySandboxFiles = field(default_factory=MemorySandboxFiles)
    devices: MemoryDeviceLookup = field(default_factory=MemoryDeviceLookup)
    profiles: MemorySecurityProfiles = field(default_factory=MemorySecurityProfiles)
    max_line_size: int = MAX_RECORD  # of a CRI log record

    def __post_init__(self) -> None:
        self.network = MemoryNetwork(namespaces=self.netns)  # its ADD plugs into `netns`
        self.io = MemoryIO()  # the pipes; `stdio` pumps them into the logs
        self.stdio = ContainerStdio(self.io, MemoryLogFiles(), self.clock, self.max_line_size)
        self.runtime = MemoryRuntime(self.clock, self.io)
        self.images = MemoryImageStore(self.registry, self.clock)

    def ports(self) -> Ports:
        return Ports(
            runtime=self.runtime,
            io=self.stdio,
            events=self.runtime,
            netns=self.netns,
            network=self.network,
            images=self.images,
            puller=self.images,
            state=self.state,
            files=self.files,
            devices=self.devices,
            profiles=self.profiles,
            clock=self.clock,
        )
