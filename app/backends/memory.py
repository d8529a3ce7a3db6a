"""The memory backend, the CRI simulator: every port in memory except the clock and the log
files (`hexcri serve --backend memory`)."""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.host.clock import SystemClock
from adapters.memory.backend import MemoryBackend
from adapters.memory.images import MemoryRegistry, simulated_config
from adapters.streaming.dial import NodeDialer
from app.settings import Settings


def simulated_registry(catalogue: list[str] | None) -> MemoryRegistry:
    """Any well-formed reference pulls (`catalogue` None), or only those of the catalogue."""
    images = None if catalogue is None else {ref: simulated_config(ref) for ref in catalogue}
    return MemoryRegistry(images, open=catalogue is None)


class Backend(containers.DeclarativeContainer):
    """The fakes wired as `adapters.memory.backend.MemoryBackend` wires them for the tests."""

    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    registry = providers.Singleton(simulated_registry, settings.provided.simulator_images)
    fakes = providers.Singleton(
        MemoryBackend,
        clock=clock,
        registry=registry,
        max_line_size=settings.provided.max_container_log_line_size,
    )
    ports = fakes.provided.ports.call()
    # no pod network namespaces: port-forward dials the node's own localhost
    dialer = providers.Singleton(NodeDialer)
