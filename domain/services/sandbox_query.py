"""PodSandboxStatus, ListPodSandbox and sandbox stats: answered from the stores."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from domain.errors import NotFound
from domain.filters import SandboxFilter, match_sandbox, validate_selector
from domain.model import (
    Container,
    ContainerState,
    ContainerStats,
    InterfaceStats,
    PodStats,
    Sandbox,
    SandboxState,
)
from domain.services.container_query import ContainerQuery, ContainerView
from domain.services.unit_of_work import PodRepository
from domain.stats import pod_interfaces, pod_usage
from ports.clock import Clock
from ports.network import NetworkNamespaces
from ports.runtime import ContainerRuntime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SandboxView:
    """PodSandboxStatus: the sandbox, its containers' statuses, when it was read."""

    sandbox: Sandbox
    containers: tuple[ContainerView, ...]
    timestamp: int
    reconciling: bool  # recovery has yet to match it with the runtime


@dataclass(frozen=True)
class PodStatsView:
    """A pod's stats with each container's stats beside the container."""

    sandbox: Sandbox
    stats: PodStats
    containers: tuple[tuple[Container, ContainerStats], ...]


@dataclass(frozen=True)
class SandboxQuery:
    pods: PodRepository
    containers: ContainerQuery
    runtime: ContainerRuntime
    netns: NetworkNamespaces
    clock: Clock

    def pod_sandbox_status(self, sandbox_id: str) -> Sandbox:
        return self.pods.sandboxes.get(sandbox_id)

    def sandbox_view(self, sandbox_id: str) -> SandboxView:
        sandbox = self.pod_sandbox_status(sandbox_id)
        members = self.pods.containers.of_sandbox(sandbox.id)
        return SandboxView(
            sandbox=sandbox,
            containers=tuple(self.containers.view(c) for c in members),
            timestamp=self.clock.now_ns(),
            reconciling=self.is_reconciling(sandbox.id),
        )

    def now(self) -> int:
        """The domain clock's time (ns), for callers that time what they do to pods."""
        return self.clock.now_ns()

    def list_pod_sandboxes(self, f: SandboxFilter | None = None) -> list[Sandbox]:
        sandboxes = self.pods.sandboxes.all()
        if f is None:
            return sandboxes
        validate_selector(f.label_selector)
        return [s for s in sandboxes if match_sandbox(f, s)]

    async def pod_sandbox_stats(self, sandbox_id: str) -> tuple[Sandbox, PodStats]:
        """The sandbox's cpu and memory (its pause and running containers together), the
        counters of its network interfaces, its process count and its containers' stats. A
        pod that is not ready has nothing running: its stats are empty."""
        view = await self.pod_stats_view(sandbox_id)
        return view.sandbox, view.stats

    async def pod_stats_view(self, sandbox_id: str) -> PodStatsView:
        """As `pod_sandbox_stats`, each container's stats beside the container."""
        sandbox = self.pods.sandboxes.get(sandbox_id)
        now = self.clock.now_ns()
        if sandbox.state != SandboxState.READY:
            empty = ContainerStats(container_id=sandbox.id, timestamp=now)
            stats = PodStats(sandbox_id=sandbox.id, timestamp=now, usage=empty)
            return PodStatsView(sandbox=sandbox, stats=stats, containers=())
        running = [
            c for c in self.pods.containers.of_sandbox(sandbox.id)
            if c.state == ContainerState.RUNNING
        ]  # fmt: skip
        pause, interfaces, found = await asyncio.gather(
            self._pause_stats(sandbox.id),
            self._interfaces(sandbox),
            asyncio.gather(*(self.containers.stats_if_running(c.id) for c in running)),
        )
        pairs = tuple((c, s) for c, s in zip(running, found, strict=True) if s is not None)
        containers = [s for _, s in pairs]
        usage = pod_usage(sandbox.id, now, [*pause, *containers])
        stats = PodStats(
            sandbox_id=sandbox.id,
            timestamp=now,
            usage=self.containers.cpu_rates.rated(("pod", sandbox.id), usage),
            interfaces=pod_interfaces(interfaces),
            process_count=sum(c.process_count for c in containers),  # the pause not counted
            containers=tuple(containers),
        )
        return PodStatsView(sandbox=sandbox, stats=stats, containers=pairs)

    async def _pause_stats(self, sandbox_id: str) -> list[ContainerStats]:
        """The pause container's sample; none if its task ended since the pod was listed."""
        try:
            return [await self.runtime.stats(sandbox_id)]
        except NotFound:
            return []

    async def _interfaces(self, sandbox: Sandbox) -> list[InterfaceStats]:
        """The counters of the pod's interfaces; none for a host-network pod (the node's are
        not the pod's) or a namespace that is gone (logged: the pod's network is broken)."""
        if not sandbox.netns_path:
            return []
        try:
            return await self.netns.interface_stats(sandbox.netns_path)
        except NotFound as e:
            log.warning("pod %s: no network statistics: %s", sandbox.id, e)
            return []

    async def list_pod_stats_views(self, f: SandboxFilter | None = None) -> list[PodStatsView]:
        ready = [s for s in self.list_pod_sandboxes(f) if s.state == SandboxState.READY]
        found = list(await asyncio.gather(*(self.pod_stats_view(s.id) for s in ready)))
        self.containers.forget_removed()
        return found

    async def list_pod_sandbox_stats(
        self, f: SandboxFilter | None = None
    ) -> list[tuple[Sandbox, PodStats]]:
        return [(v.sandbox, v.stats) for v in await self.list_pod_stats_views(f)]

    def is_reconciling(self, object_id: str) -> bool:
        """Whether recovery has yet to match this sandbox or container with the runtime (its
        listed state is the recorded one until then)."""
        return object_id in self.containers.reconciling
