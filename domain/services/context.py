"""The outbound ports as the composition root hands them over, and the settings. Use cases
take only the ports they use (see each use case's constructor), never this bundle."""

from __future__ import annotations

from dataclasses import dataclass

from domain.services.settings import Settings
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

__all__ = ["Ports", "Settings"]


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
