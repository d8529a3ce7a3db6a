"""The composition root: dependency-injector containers that select and wire adapters.

`Application` chooses the backend container (`app.backends.memory` or `.containerd`, a
provider per adapter) by `settings.backend`, wires the use cases over its ports (`Domain`)
and builds what the process serves. What opens something is a `providers.Resource`:
`open_resources(container)` opens a container's, `close_resources(container)` closes those
that were opened, each after whatever takes it. The application's (servers, then the use
cases' pending clean-ups) close before the backend's (clients, channels, files).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import AsyncIterator

from dependency_injector import containers, providers

from adapters.host.node import node_facts
from adapters.host.oom import min_oom_score_adj
from app import servers
from app.info import cri_config
from app.settings import Settings
from app.version import VERSION
from domain.eventbus import EventBus
from domain.reference import parse
from domain.services.cleanup import Cleanups
from domain.services.container_create import ContainerCreate
from domain.services.container_exec import ContainerExec
from domain.services.container_query import ContainerQuery
from domain.services.container_remove import ContainerRemove
from domain.services.container_start import ContainerStart
from domain.services.container_stop import ContainerStop
from domain.services.container_stream import ContainerStream
from domain.services.container_update import ContainerUpdate
from domain.services.context import Ports
from domain.services.exits import Exits
from domain.services.image_pull import ImagePull
from domain.services.image_query import ImageQuery
from domain.services.image_remove import ImageRemove
from domain.services.locks import ObjectLocks
from domain.services.pod_volumes import PodVolumes
from domain.services.recovery import Recovery
from domain.services.runtime_info import RuntimeInfo
from domain.services.sandbox_query import SandboxQuery
from domain.services.sandbox_remove import SandboxRemove
from domain.services.sandbox_run import SandboxRun
from domain.services.sandbox_stop import SandboxStop
from domain.services.sandbox_update import SandboxUpdate
from domain.services.settings import Settings as DomainSettings
from domain.services.unit_of_work import PodRepository
from domain.services.usecases import UseCases
from domain.sharing import SharedWork
from domain.spec import NodeOptions
from domain.stats import CpuRates
from domain.store import ImageIndex


def node_options(settings: Settings) -> NodeOptions:
    restrict = settings.restrict_oom_score_adj
    floor = min_oom_score_adj() if restrict is None else (0 if restrict else None)
    return NodeOptions(
        sandbox_root=os.path.join(settings.root_dir, "sandboxes"),
        min_oom_score_adj=floor,
        cgroup_driver=settings.cgroup_driver,
        default_cgroup_parent=f"/{settings.containerd.namespace}",
        **node_facts(),
    )


def to_domain_settings(settings: Settings) -> DomainSettings:
    return DomainSettings(
        runtime_version=VERSION,
        sandbox_image=settings.sandbox_image,
        cgroup_driver=settings.cgroup_driver,
        stop_kill_wait=settings.stop_kill_wait,
        node=node_options(settings),
    )


def image_index(settings: DomainSettings) -> ImageIndex:
    """The image index, the sandbox image pinned (kubelet's image GC keeps it)."""
    index = ImageIndex()
    index.pin(str(parse(settings.sandbox_image)))
    return index


def _port(name: str, ports: providers.Provider[Ports]) -> providers.Provider[object]:
    return providers.Callable(getattr, ports, name)


class Domain(containers.DeclarativeContainer):
    """The use cases over the ports: one provider per use case, each given exactly what it
    uses; the stores and bookkeeping they share are singletons."""

    ports = providers.Dependency(instance_of=Ports)
    settings = providers.Dependency(instance_of=DomainSettings)

    runtime = _port("runtime", ports)
    io = _port("io", ports)
    clock = _port("clock", ports)
    netns = _port("netns", ports)
    network = _port("network", ports)
    files = _port("files", ports)
    profiles = _port("profiles", ports)
    node = providers.Callable(lambda s: s.node, settings)
    kill_wait = providers.Callable(lambda s: s.stop_kill_wait, settings)

    # shared state
    bus = providers.Singleton(EventBus)
    pods = providers.Singleton(PodRepository, _port("state", ports), clock, bus)
    images = providers.Singleton(image_index, settings)
    locks = providers.Singleton(ObjectLocks)
    pulls: providers.Singleton[SharedWork[str]] = providers.Singleton(SharedWork)
    cpu_rates = providers.Singleton(CpuRates)
    cleanups = providers.Singleton(Cleanups)
    reconciling: providers.Singleton[set[str]] = providers.Singleton(set)

    # use cases
    image_pull = providers.Singleton(ImagePull, _port("puller", ports), images, pulls)
    image_query = providers.Singleton(ImageQuery, images, _port("images", ports))
    image_remove = providers.Singleton(ImageRemove, images, _port("images", ports))
    sandbox_run = providers.Singleton(
        SandboxRun, pods, runtime, netns, network, files, profiles, image_pull, clock, settings
    )
    container_stop = providers.Singleton(ContainerStop, pods, locks, runtime, images, kill_wait)
    container_remove = providers.Singleton(
        ContainerRemove, pods, locks, container_stop, runtime, io, cleanups
    )
    sandbox_stop = providers.Singleton(
        SandboxStop, pods, locks, container_stop, runtime, network, netns, kill_wait
    )
    sandbox_remove = providers.Singleton(
        SandboxRemove, pods, locks, sandbox_stop, container_remove, runtime, files, cleanups
    )
    sandbox_update = providers.Singleton(SandboxUpdate, pods, node)
    container_create = providers.Singleton(
        ContainerCreate,
        pods,
        locks,
        images,
        runtime,
        io,
        files,
        _port("devices", ports),
        profiles,
        clock,
        node,
    )
    container_start = providers.Singleton(ContainerStart, pods, locks, runtime, io, clock)
    container_update = providers.Singleton(ContainerUpdate, pods, locks, runtime, node)
    container_query = providers.Singleton(
        ContainerQuery, pods, images, runtime, clock, cpu_rates, reconciling
    )
    sandbox_query = providers.Singleton(SandboxQuery, pods, container_query, runtime, netns, clock)
    container_exec = providers.Singleton(ContainerExec, pods, locks, runtime, io)
    container_stream = providers.Singleton(ContainerStream, pods, runtime, io)
    runtime_info = providers.Singleton(RuntimeInfo, runtime, network, settings)
    task_exits = providers.Singleton(Exits, pods, runtime, io, _port("events", ports), clock)
    recovery = providers.Singleton(
        Recovery,
        pods,
        images,
        _port("images", ports),
        runtime,
        io,
        network,
        netns,
        files,
        clock,
        task_exits,
        reconciling,
        locks,
    )
    pod_volumes = providers.Singleton(PodVolumes, files)

    use_cases = providers.Singleton(
        UseCases,
        sandbox_run=sandbox_run,
        sandbox_stop=sandbox_stop,
        sandbox_remove=sandbox_remove,
        sandbox_update=sandbox_update,
        sandbox_query=sandbox_query,
        container_create=container_create,
        container_start=container_start,
        container_stop=container_stop,
        container_remove=container_remove,
        container_update=container_update,
        container_query=container_query,
        container_exec=container_exec,
        container_stream=container_stream,
        image_pull=image_pull,
        image_query=image_query,
        image_remove=image_remove,
        runtime_info=runtime_info,
        task_exits=task_exits,
        recovery=recovery,
        pod_volumes=pod_volumes,
    )


def backend_container(name: str, settings: Settings) -> containers.Container:
    """The container of `app.backends.<name>`, imported only when it is the chosen one."""
    module = importlib.import_module(f"app.backends.{name}")
    container: containers.Container = module.Backend(settings=settings)
    return container


async def serving_use_cases(uses: UseCases) -> AsyncIterator[UseCases]:
    """The use cases; at shutdown, the clean-ups that removals left in the runtime get a
    grace period (what is left then, recovery removes at the next start)."""
    yield uses
    await uses.container_remove.wait_clean_ups(servers.GRACE_SECONDS)


class Application(containers.DeclarativeContainer):
    """Settings in; the chosen backend, the use cases and the servers out.

    `shutdown_resources` closes a resource after those that take it *directly* as an
    argument (a provider in between hides the dependency): each server takes `use_cases`.
    """

    settings = providers.Dependency(instance_of=Settings)
    backend = providers.Selector(
        settings.provided.backend,
        memory=providers.Singleton(backend_container, "memory", settings),
        containerd=providers.Singleton(backend_container, "containerd", settings),
    )
    ports = backend.provided.ports.call()
    domain_settings = providers.Singleton(to_domain_settings, settings)
    domain = providers.Container(Domain, ports=ports, settings=domain_settings)
    use_cases = providers.Resource(serving_use_cases, domain.use_cases)

    metrics = providers.Resource(
        servers.metrics_endpoint, settings.provided.metrics_address, use_cases
    )
    streaming = providers.Resource(
        servers.streaming_server,
        use_cases,
        settings.provided.streaming_address,
        backend.provided.dialer.call(),
    )
    cri = providers.Resource(
        servers.cri_server,
        use_cases,
        settings.provided.socket,
        streaming,
        providers.Callable(
            cri_config, settings, streaming.provided.base_url, domain_settings.provided.node
        ),
    )


async def open_resources(container: containers.Container) -> None:
    """Open every resource of `container` (its clients, servers...)."""
    pending = container.init_resources()
    if pending is not None:
        await pending


async def close_resources(container: containers.Container) -> None:
    """Close the resources of `container` that were opened, dependents first."""
    pending = container.shutdown_resources()
    if pending is not None:
        await pending
