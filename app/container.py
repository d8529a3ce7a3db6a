"""The composition root: a dependency-injector container that selects and wires adapters."""

from __future__ import annotations

import os

from dependency_injector import containers, providers

from adapters.host.node import node_facts
from adapters.host.oom import min_oom_score_adj
from app import backends
from app.settings import Settings
from domain.services.context import Context
from domain.services.context import Settings as DomainSettings
from domain.spec import NodeOptions

VERSION = "0.1.0"


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


def domain_settings(settings: Settings) -> DomainSettings:
    return DomainSettings(
        runtime_version=VERSION,
        sandbox_image=settings.sandbox_image,
        cgroup_driver=settings.cgroup_driver,
        stop_kill_wait=settings.stop_kill_wait,
        node=node_options(settings),
    )


class Application(containers.DeclarativeContainer):
    """Settings in, a wired domain Context out."""

    settings = providers.Dependency(instance_of=Settings)
    backend = providers.Selector(
        providers.Callable(lambda s: s.backend, settings),
        memory=providers.Singleton(backends.memory_backend, settings),
        containerd=providers.Singleton(backends.containerd_backend, settings),
    )
    context = providers.Singleton(
        Context,
        ports=providers.Callable(lambda b: b.ports, backend),
        settings=providers.Singleton(domain_settings, settings),
    )
