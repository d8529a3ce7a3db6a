"""Backends: the adapters behind every port, chosen by `settings.backend`."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from adapters.host.clock import SystemClock
from adapters.host.devices import StatDeviceLookup
from adapters.host.files import LocalSandboxFiles
from adapters.host.logs import HostLogFiles
from adapters.host.profiles import FileSecurityProfiles
from adapters.streaming.dial import NetnsDialer, NodeDialer
from app.settings import Settings
from domain.errors import HexcriError
from domain.services.context import Ports
from domain.stdio import ContainerStdio
from ports.streams import PodDialer

if TYPE_CHECKING:
    from adapters.containerd.fsinfo import SnapshotterUsage

log = logging.getLogger(__name__)


async def _nothing() -> None:
    return None


@dataclass
class Backend:
    """The wired ports and how to release what they hold at shutdown."""

    ports: Ports
    close: Callable[[], Awaitable[None]] = field(default=_nothing)
    # checks made once the runtime answers, before serving (they log what is wrong)
    start: Callable[[], Awaitable[None]] = field(default=_nothing)
    # how port-forward reaches a pod's localhost
    dialer: PodDialer = field(default_factory=NetnsDialer)


def memory_backend(settings: Settings) -> Backend:
    """The CRI simulator: every port in memory except the clock and the log files."""
    from adapters.memory.backend import MemoryBackend  # each backend imports only its own
    from adapters.memory.images import MemoryRegistry, simulated_config

    catalogue = settings.simulator_images
    images = None if catalogue is None else {ref: simulated_config(ref) for ref in catalogue}
    backend = MemoryBackend(
        clock=SystemClock(),
        registry=MemoryRegistry(images, open=catalogue is None),
        max_line_size=settings.max_container_log_line_size,
    )
    return Backend(backend.ports(), dialer=NodeDialer())


def containerd_backend(settings: Settings) -> Backend:
    """Real containerd, CNI, registries; durable state in sqlite."""
    from adapters.cni.network import CniNetwork
    from adapters.containerd.client import ContainerdClient
    from adapters.containerd.events import ContainerdEvents
    from adapters.containerd.fsinfo import SnapshotterUsage
    from adapters.containerd.images import ContainerdImageStore
    from adapters.containerd.introspection import SNAPSHOTTER_PLUGIN, SnapshotterRoot
    from adapters.containerd.io import FifoStreams
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
    io = ContainerStdio(
        FifoStreams(os.path.join(settings.state_dir, "io")),
        HostLogFiles(),
        clock,
        settings.max_container_log_line_size,
    )
    state = SqliteStateStore(os.path.join(settings.root_dir, "hexcri.db"))
    # where the snapshotter keeps its data: containerd says (the setting is a fallback)
    guess = os.path.join(ctd.root, f"{SNAPSHOTTER_PLUGIN}.{ctd.snapshotter}")
    snapshotter_root = SnapshotterRoot(client, ctd.snapshotter, fallback=guess)
    usage = SnapshotterUsage(client, snapshotter_root)
    images = ContainerdImageStore(client, ctd.snapshotter, usage)
    ports = Ports(
        runtime=ContainerdRuntime(
            client,
            settings.state_dir,
            snapshotter=ctd.snapshotter,
            runtime=ctd.runtime,
            snapshotter_root=snapshotter_root,
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

    async def start() -> None:
        await _check_image_filesystem(usage)

    return Backend(ports, close, start=start)


async def _check_image_filesystem(usage: SnapshotterUsage) -> None:
    """Measure the image filesystem once: what cannot be measured is an error in the log."""
    try:
        fs = await usage.measure()
    except HexcriError as e:
        log.error("ImageFsInfo cannot measure the image filesystem: %s", e)
        return
    log.info(
        "image filesystem %s: %d bytes, %d inodes used",
        fs.mountpoint,
        fs.used_bytes,
        fs.inodes_used,
    )
