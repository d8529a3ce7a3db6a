"""The composition root: a dependency-injector container that selects and wires adapters.

`Application` chooses the backend container (`app.backends.memory` or `.containerd`, a
provider per adapter) by `settings.backend` and builds what the process serves from it. What
opens something is a `providers.Resource`: `open_resources(container)` opens a container's,
`close_resources(container)` closes those that were opened, each after whatever depends on
it. The application's (servers, then the context) close before the backend's (clients,
channels, files).
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
from domain.services.context import Context, Ports
from domain.services.context import Settings as DomainSettings
from domain.spec import NodeOptions


def node_options(settings: Settings) -> NodeOptions:
    restrict = settings.restrict_oom_score_adj
    floor = min_oom_score_adj() if restrict is None else (0 if restrict else None)
    return NodeOptions(
        sandbox_root=os.path.join(settings.root_dir, "sandboxes"),
        min_oom_score_adj=floor,
        cgroup_driver=settings.cgroup_driver,
        namespace=settings.containerd.namespace,
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


def backend_container(name: str, settings: Settings) -> containers.Container:
    """The container of `app.backends.<name>`, imported only when it is the chosen one."""
    module = importlib.import_module(f"app.backends.{name}")
    container: containers.Container = module.Backend(settings=settings)
    return container


async def running_context(ports: Ports, settings: DomainSettings) -> AsyncIterator[Context]:
    """The use cases' context; at shutdown, the clean-ups that removals left in the runtime
    get a grace period (what is left then, recovery removes at the next start)."""
    ctx = Context(ports=ports, settings=settings)
    yield ctx
    await ctx.cleanups.wait(timeout=servers.GRACE_SECONDS)


class Application(containers.DeclarativeContainer):
    """Settings in; the chosen backend, the use cases' context and the servers out.

    `shutdown_resources` closes a resource after those that take it *directly* as an
    argument (a Singleton in between hides the dependency): each server takes `context`.
    """

    settings = providers.Dependency(instance_of=Settings)
    backend = providers.Selector(
        settings.provided.backend,
        memory=providers.Singleton(backend_container, "memory", settings),
        containerd=providers.Singleton(backend_container, "containerd", settings),
    )
    ports = backend.provided.ports.call()
    domain_settings = providers.Singleton(to_domain_settings, settings)
    context = providers.Resource(running_context, ports=ports, settings=domain_settings)

    metrics = providers.Resource(
        servers.metrics_endpoint, settings.provided.metrics_address, context
    )
    streaming = providers.Resource(
        servers.streaming_server,
        context,
        settings.provided.streaming_address,
        backend.provided.dialer.call(),
    )
    cri = providers.Resource(
        servers.cri_server,
        context,
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
