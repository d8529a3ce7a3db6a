"""ContainerStatus, ListContainers, container stats and the container event stream:
answered from the stores."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from domain.errors import NotFound
from domain.filters import ContainerFilter, match_container, validate_selector
from domain.model import Container, ContainerEvent, ContainerState, ContainerStats, Image, Sandbox
from domain.services.unit_of_work import PodRepository
from domain.stats import CpuRates
from domain.store import ImageIndex
from ports.clock import Clock
from ports.runtime import ContainerRuntime


@dataclass(frozen=True)
class ContainerView:
    """A container with what its status shows of its sandbox and image."""

    container: Container
    sandbox: Sandbox | None
    image: Image | None
    reconciling: bool  # recovery has yet to match it with the runtime


@dataclass(frozen=True)
class EventView:
    """A container event with its pod's sandbox and containers as they are now."""

    event: ContainerEvent
    sandbox: Sandbox | None
    containers: tuple[tuple[Container, Image | None], ...]


@dataclass(frozen=True)
class ContainerQuery:
    pods: PodRepository
    images: ImageIndex
    runtime: ContainerRuntime
    clock: Clock
    cpu_rates: CpuRates
    # Sandbox and container IDs restored from the record that recovery has not yet matched
    # with the runtime: listed with their recorded state, marked as being reconciled.
    reconciling: set[str]

    def container_status(self, container_id: str) -> Container:
        return self.pods.containers.get(container_id)

    def image_of(self, container: Container) -> Image | None:
        return self.images.resolve(container.image_id) if container.image_id else None

    def view(self, container: Container) -> ContainerView:
        return ContainerView(
            container=container,
            sandbox=self.pods.sandboxes.find(container.sandbox_id),
            image=self.image_of(container),
            reconciling=container.id in self.reconciling,
        )

    def container_view(self, container_id: str) -> ContainerView:
        """ContainerStatus: the container, its sandbox and image."""
        return self.view(self.container_status(container_id))

    def containers_of(self, sandbox_id: str) -> list[Container]:
        """The containers of the sandbox `sandbox_id` (its full ID)."""
        return self.pods.containers.of_sandbox(sandbox_id)

    def list_containers(self, f: ContainerFilter | None = None) -> list[Container]:
        containers = self.pods.containers.all()
        if f is None:
            return containers
        validate_selector(f.label_selector)
        return [c for c in containers if match_container(f, c)]

    async def container_stats(self, container_id: str) -> tuple[Container, ContainerStats]:
        container = self.pods.containers.get(container_id)
        if container.state != ContainerState.RUNNING:
            return container, ContainerStats(
                container_id=container.id, timestamp=self.clock.now_ns()
            )
        return container, await self.running_container_stats(container.id)

    async def running_container_stats(self, container_id: str) -> ContainerStats:
        """A running container's sample from the runtime, its cpu rated against the
        previous."""
        stats = await self.runtime.stats(container_id)
        return self.cpu_rates.rated(container_id, stats)

    async def stats_if_running(self, container_id: str) -> ContainerStats | None:
        """As `running_container_stats`, None for a task that ended since it was listed."""
        try:
            return await self.running_container_stats(container_id)
        except NotFound:
            return None

    async def list_container_stats(
        self, f: ContainerFilter | None = None
    ) -> list[tuple[Container, ContainerStats]]:
        """The running containers' stats; one whose task ends meanwhile is left out."""
        running = [c for c in self.list_containers(f) if c.state == ContainerState.RUNNING]
        found = await asyncio.gather(*(self.stats_if_running(c.id) for c in running))
        self.forget_removed()
        return [(c, s) for c, s in zip(running, found, strict=True) if s is not None]

    def forget_removed(self) -> None:
        """Drop the cpu samples of containers and pods that are gone."""
        sandboxes = [("pod", s.id) for s in self.pods.sandboxes.all()]
        self.cpu_rates.retain([*(c.id for c in self.pods.containers.all()), *sandboxes])

    async def container_events(self) -> AsyncIterator[EventView]:
        """GetContainerEvents: every event from now on, with its pod as it is."""
        async for event in self.pods.bus.subscribe():
            sandbox = self.pods.sandboxes.find(event.sandbox_id) if event.sandbox_id else None
            members = self.pods.containers.of_sandbox(sandbox.id) if sandbox is not None else []
            yield EventView(
                event=event,
                sandbox=sandbox,
                containers=tuple((c, self.image_of(c)) for c in members),
            )
