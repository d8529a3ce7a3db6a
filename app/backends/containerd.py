"""The containerd backend: real containers through containerd, pod networks through CNI
plugins, images from registries, durable state in sqlite."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator

from dependency_injector import containers, providers

from adapters.cni.network import CniNetwork
from adapters.containerd.client import ContainerdClient
from adapters.containerd.events import ContainerdEvents
from adapters.containerd.fsinfo import SnapshotterUsage
from adapters.containerd.images import ContainerdImageStore
from adapters.containerd.introspection import SNAPSHOTTER_PLUGIN, SnapshotterRoot
from adapters.containerd.io import FifoStreams
from adapters.containerd.pull import ContainerdImagePuller
from adapters.containerd.runtime import ContainerdRuntime
from adapters.host.clock import SystemClock
from adapters.host.devices import StatDeviceLookup
from adapters.host.files import LocalSandboxFiles
from adapters.host.logs import HostLogFiles
from adapters.host.profiles import FileSecurityProfiles
from adapters.netns.namespaces import PyrouteNamespaces, instance_id
from adapters.registry.client import RegistryClient
from adapters.registry.hosts import HostsConfig
from adapters.store.sqlite import SqliteStateStore
from adapters.streaming.dial import NetnsDialer
from app.backends import opened
from app.settings import ContainerdSettings, Settings
from domain.errors import HexcriError
from domain.services.context import Ports
from domain.stdio import ContainerStdio

log = logging.getLogger(__name__)


def snapshotter_guess(ctd: ContainerdSettings) -> str:
    """Where the snapshotter keeps its data if containerd does not say (`containerd.root`)."""
    return os.path.join(ctd.root, f"{SNAPSHOTTER_PLUGIN}.{ctd.snapshotter}")


async def check_image_filesystem(usage: SnapshotterUsage) -> None:
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


async def image_filesystem_check(usage: SnapshotterUsage) -> AsyncIterator[asyncio.Task[None]]:
    """A resource: `check_image_filesystem` in the background (it must not hold up the
    socket), cancelled at shutdown if it has not finished."""
    task = asyncio.create_task(check_image_filesystem(usage), name="image-filesystem-check")
    yield task
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class Backend(containers.DeclarativeContainer):
    """A provider per adapter. The containerd client (its channel), the registry client, the
    containers' stdio (FIFOs, log pumps) and the sqlite database are resources, closed by
    `shutdown_resources`; so is the image filesystem check."""

    settings = providers.Dependency(instance_of=Settings)
    ctd = settings.provided.containerd
    cni = settings.provided.cni
    registries = settings.provided.registry
    # marks the host objects (netns, CNI results) of this instance
    instance = providers.Callable(
        instance_id, settings.provided.root_dir, ctd.address, ctd.namespace
    )

    clock = providers.Singleton(SystemClock)
    client = providers.Resource(
        opened, providers.Factory(ContainerdClient, ctd.address, ctd.namespace)
    )
    registry = providers.Resource(
        opened,
        providers.Factory(
            RegistryClient,
            providers.Factory(HostsConfig, registries.config_path),
            progress_timeout=registries.no_progress_timeout,
        ),
    )
    # where the snapshotter keeps its data: containerd says (the setting is a fallback)
    snapshotter_root = providers.Singleton(
        SnapshotterRoot,
        client,
        ctd.snapshotter,
        fallback=providers.Callable(snapshotter_guess, ctd),
    )
    usage = providers.Singleton(SnapshotterUsage, client, snapshotter_root)

    runtime = providers.Singleton(
        ContainerdRuntime,
        client,
        settings.provided.state_dir,
        snapshotter=ctd.snapshotter,
        runtime=ctd.runtime,
        snapshotter_root=snapshotter_root,
    )
    io = providers.Resource(
        opened,
        providers.Factory(
            ContainerStdio,
            providers.Factory(
                FifoStreams, providers.Callable(os.path.join, settings.provided.state_dir, "io")
            ),
            providers.Factory(HostLogFiles),
            clock,
            settings.provided.max_container_log_line_size,
        ),
        close="close_all",
    )
    events = providers.Singleton(ContainerdEvents, client)
    netns = providers.Singleton(PyrouteNamespaces, cni.netns_dir, instance)
    network = providers.Singleton(
        CniNetwork,
        conf_dir=cni.conf_dir,
        bin_dirs=cni.bin_dirs,
        cache_dir=cni.cache_dir,
        plugin_timeout=cni.plugin_timeout,
        instance=instance,
    )
    images = providers.Singleton(ContainerdImageStore, client, ctd.snapshotter, usage)
    puller = providers.Singleton(
        ContainerdImagePuller,
        client,
        registry,
        ctd.snapshotter,
        max_concurrent_downloads=registries.max_concurrent_downloads,
    )
    state = providers.Resource(
        opened,
        providers.Factory(
            SqliteStateStore,
            providers.Callable(os.path.join, settings.provided.root_dir, "hexcri.db"),
        ),
    )
    files = providers.Singleton(
        LocalSandboxFiles, providers.Callable(os.path.join, settings.provided.root_dir, "sandboxes")
    )
    devices = providers.Singleton(StatDeviceLookup)
    profiles = providers.Singleton(FileSecurityProfiles)

    ports = providers.Singleton(
        Ports,
        runtime=runtime,
        io=io,
        events=events,
        netns=netns,
        network=network,
        images=images,
        puller=puller,
        state=state,
        files=files,
        devices=devices,
        profiles=profiles,
        clock=clock,
    )
    # port-forward dials a pod's localhost inside its network namespace
    dialer = providers.Singleton(NetnsDialer)
    # checks made once the runtime answers (they log what is wrong); not held up by them
    image_filesystem = providers.Resource(image_filesystem_check, usage)
