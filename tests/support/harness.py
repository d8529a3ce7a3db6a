"""The domain as the tests drive it: every use case wired by the composition root's
`Domain` container on the given ports, with the state they share at hand."""

from __future__ import annotations

from app.container import Domain
from domain.eventbus import EventBus
from domain.names import NameRegistry
from domain.services.cleanup import Cleanups
from domain.services.context import Ports, Settings
from domain.services.locks import ObjectLocks
from domain.services.unit_of_work import PodRepository
from domain.services.usecases import UseCases
from domain.sharing import SharedWork
from domain.stats import CpuRates
from domain.store import ContainerStore, ExitSignals, ImageIndex, SandboxStore


class Harness:
    """The use cases (attributes named after their modules) plus the ports, the settings
    and the shared stores, for tests to set up and inspect."""

    def __init__(self, ports: Ports, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else Settings()
        self.ports = ports
        self.domain = Domain(ports=ports, settings=self.settings)
        self.uses: UseCases = self.domain.use_cases()
        for name in UseCases.__dataclass_fields__:
            setattr(self, name, getattr(self.uses, name))

    @property
    def pods(self) -> PodRepository:
        return self.domain.pods()  # type: ignore[no-any-return]

    @property
    def sandboxes(self) -> SandboxStore:
        return self.pods.sandboxes

    @property
    def containers(self) -> ContainerStore:
        return self.pods.containers

    @property
    def names(self) -> NameRegistry:
        return self.pods.names

    @property
    def exits(self) -> ExitSignals:
        return self.pods.exits

    @property
    def bus(self) -> EventBus:
        return self.pods.bus

    @property
    def images(self) -> ImageIndex:
        return self.domain.images()  # type: ignore[no-any-return]

    @property
    def locks(self) -> ObjectLocks:
        return self.domain.locks()  # type: ignore[no-any-return]

    @property
    def cleanups(self) -> Cleanups:
        return self.domain.cleanups()  # type: ignore[no-any-return]

    @property
    def cpu_rates(self) -> CpuRates:
        return self.domain.cpu_rates()  # type: ignore[no-any-return]

    @property
    def pulls(self) -> SharedWork[str]:
        return self.domain.pulls()  # type: ignore[no-any-return]

    @property
    def reconciling(self) -> set[str]:
        return self.domain.reconciling()  # type: ignore[no-any-return]
