"""Backends: the adapters behind every port, chosen by `settings.backend`."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from adapters.host.clock import SystemClock
from adapters.host.devices import StatDeviceLookup
from adapters.host.files import LocalSandboxFiles
from adapters.host.profiles import FileSecurityProfiles
from adapters.memory.backend import MemoryBackend
from adapters.streaming.dial import NetnsDialer, NodeDialer
from app.settings import Settings
from domain.services.context import Ports
from ports.streams import PodDialer


async def _nothing() -> None:
    return None


@dataclass
class Backend:
    """The wired ports and how to release what they hold at shutdown."""

    ports: Ports
    close: Callable[[], Awaitable[None]] = field(default=_nothing)
    # how port-forward reaches a pod's localhost
    dialer: PodDialer = field(default_factory=NetnsDialer)


def memory_backend(settings: Settings) -> Backend:
    """The CRI simulator: every port in memory except the clock and the log files."""
    return Backend(MemoryBackend(clock=SystemClock()).ports(), dialer=NodeDialer())


def containerd_backend(settings: Settings) -> Backend:
    """Real containerd, CNI, registries; durable state in sqlite."""
    from adapters.cni.network import CniNetwork
    from adapters.containerd.client import ContainerdClient
    from adapters.containerd.events import ContainerdEvents
    from adapters.containerd.images import ContainerdImageStore
    from adapters.containerd.io import FifoContainerIO
    from adapters.containerd.pull import ContainerdImagePuller
    from adapters.containerd.runtime import ContainerdRuntime
    from adapters.netns.namespaces import PyrouteNamespaces, instance_id
    from adapters.registry.client import RegistryClient
    from adapters.registry.hosts import HostsConfig
    from adapters.store.sqlite import SqliteStateStore

    ctd = settings.containerd
    instance = instance_id(settings.root_dir, ctd.address, ctd.namespace)  # marks host objects
    clock = SystemClock()
    client = ContainerdClient(ctd.address, ctd.namespace)
    registry = RegistryClient(
        HostsConfig(settings.registry.config_path),
        progress_timeout=settings.registry.no_progress_timeout,
    )
    io = FifoContainerIO(os.path.join(settings.state_dir, "io"), clock)
    state = SqliteStateStore(os.path.join(settings.root_dir, "hexcri.db"))
    snapshotter_root = os.path.join(ctd.root, f"io.containerd.snapshotter.v1.{ctd.snapshotter}")
    images = ContainerdImageStore(client, ctd.snapshotter, snapshotter_root)
    ports = Ports(
        runtime=ContainerdRuntime(
            client, settings.state_dir, snapshotter=ctd.snapshotter, runtime=ctd.runtime
        ),
        io=io,
        events=ContainerdEvents(client),
        netns=PyrouteNamespaces(settings.cni.netns_dir, instance),
        network=CniNetwork(
            conf_dir=settings.cni.conf_dir,
            bin_dirs=settings.cni.bin_dirs,
            cache_dir=settings.cni.cache_dir,
            plugin_timeout=settings.cni.plugin_timeout,
            instance=instance,
        ),
        images=images,
        puller=ContainerdImagePuller(
            client,
            registry,
            ctd.snapshotter,
            max_concurrent_downloads=settings.registry.max_concurrent_downloads,
        ),
        state=state,
        files=LocalSandboxFiles(os.path.join(settings.root_dir, "sandboxes")),
        devices=StatDeviceLookup(),
        profiles=FileSecurityProfiles(),
        clock=clock,
    )

    async def close() -> None:
        await io.close_all()
        await registry.close()
        await client.close()
        state.close()

    return Backend(ports, close)
