"""The unit of work over the pod repository (cosmicpython's pattern).

A use case that writes opens one for a sandbox or a container:

- for a new object (`PodRepository.creating`) it reserves the name, records the object
  uncommitted (`record`: a crash leaves a record that recovery rolls back) and collects undo
  steps (`on_rollback`);
- `commit` writes the durable record, then the in-memory view, then signals an exit and
  publishes the events the entity queued: together, after the last port call;
- leaving the block without a commit rolls a new object back: every undo step, newest
  first, then the record and the name go. When an undo step fails, the object stays listed
  as UNKNOWN with what is left of it (its record still uncommitted, its name held), so that
  a later Stop/Remove finishes the job (and a restart rolls it back);
- `remove` commits a removal: record, view, exit signal, name, and the DELETED event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import TracebackType

from domain.eventbus import EventBus
from domain.model import Container, ContainerEvent, ContainerState, Sandbox
from domain.names import NameRegistry
from domain.services.rollback import Rollback
from domain.store import ContainerStore, ExitSignals, SandboxStore
from ports.clock import Clock
from ports.state import StateStore

log = logging.getLogger(__name__)

Pod = Sandbox | Container


class PodRepository:
    """The pods: the durable record (`StateStore`, the one source of truth) and the
    in-memory view that answers reads (`sandboxes`, `containers`, the reserved `names`, the
    `exits` signalled), with the `bus` their events go to.

    The view is filled from the record at start (`restore_*`, by recovery) and changed only
    by units of work (`creating`, `changing`), which write the record first."""

    def __init__(self, state: StateStore, clock: Clock, bus: EventBus | None = None) -> None:
        self.state = state
        self.clock = clock
        self.bus = bus if bus is not None else EventBus()
        self.sandboxes = SandboxStore()
        self.containers = ContainerStore()
        self.names = NameRegistry()
        self.exits = ExitSignals()

    def creating(self, item: Pod, name: str) -> UnitOfWork:
        """A unit of work that makes `item`, reserving `name` for it."""
        return UnitOfWork(self, item, name)

    def changing(self, item: Pod) -> UnitOfWork:
        """A unit of work that changes (or removes) a listed `item`."""
        return UnitOfWork(self, item)

    async def forget(self, item: Pod) -> None:
        """Delete the record of an object that is not listed (rolled back)."""
        if isinstance(item, Container):
            await self.state.delete_container(item.id)
        else:
            await self.state.delete_sandbox(item.id)

    async def records(self) -> tuple[list[Sandbox], list[Container]]:
        """Every recorded sandbox and container, committed or not."""
        return await self.state.load()

    def restore_sandbox(self, sandbox: Sandbox) -> None:
        """List a committed sandbox read from the record (at start). AlreadyExists when its
        name is taken: it is listed all the same."""
        self.sandboxes.add(sandbox)
        self.names.reserve(sandbox.name, sandbox.id)

    def restore_container(self, container: Container, name: str) -> None:
        """List a committed container read from the record (at start)."""
        self.names.reserve(name, container.id)
        self.containers.add(container)


class UnitOfWork:
    """One write to one sandbox or container; see the module docstring."""

    def __init__(self, repo: PodRepository, item: Pod, name: str = "") -> None:
        self.repo = repo
        self.item = item
        self._name = name  # reserved for a new object, "" for an existing one
        self._undo = Rollback()
        self._recorded = False
        self._done = False

    @property
    def new(self) -> bool:
        return bool(self._name)

    async def __aenter__(self) -> UnitOfWork:
        if self.new:
            self.repo.names.reserve(self._name, self.item.id)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._done:
            return
        self.item.events.clear()  # what was not committed is not published
        if self.new:
            await asyncio.shield(self._roll_back())

    def on_rollback(self, what: str, undo: Callable[[], object]) -> None:
        """An undo step, run (newest first) if the unit of work is not committed."""
        self._undo.push(what, undo)

    async def record(self) -> None:
        """Write the object as it is now, uncommitted: recovery rolls it back."""
        await self._put()
        self._recorded = True

    async def commit(self) -> None:
        """Record, list, signal and publish the object's changes together."""
        item = self.item
        if self.new:
            item.mark_committed()
        await self._put()
        if self.new:
            self._list()
        if isinstance(item, Container) and item.state == ContainerState.EXITED:
            self.repo.exits.set(item.id)
        self._done = True
        self._publish()

    async def remove(self) -> None:
        """Commit the object's removal: record, view, exit signal, name, DELETED event."""
        item = self.item
        repo = self.repo
        if isinstance(item, Container):
            item.mark_removed()
            await repo.state.delete_container(item.id)
            repo.containers.remove(item.id)
        else:
            await repo.state.delete_sandbox(item.id)
            repo.sandboxes.remove(item.id)
        repo.exits.forget(item.id)
        repo.names.release_owner(item.id)
        self._done = True
        self._publish()

    async def _put(self) -> None:
        if isinstance(self.item, Container):
            await self.repo.state.put_container(self.item)
        else:
            await self.repo.state.put_sandbox(self.item)

    def _list(self) -> None:
        if isinstance(self.item, Container):
            self.repo.containers.add(self.item)
        else:
            self.repo.sandboxes.add(self.item)

    def _publish(self) -> None:
        item = self.item
        sandbox_id = item.sandbox_id if isinstance(item, Container) else item.id
        for kind in item.events:
            self.repo.bus.publish(
                ContainerEvent(
                    container_id=item.id,
                    sandbox_id=sandbox_id,
                    type=kind,
                    created_at=self.repo.clock.now_ns(),
                )
            )
        item.events.clear()

    async def _roll_back(self) -> None:
        failed = await self._undo.run()
        item = self.item
        if not failed:
            if self._recorded:
                try:
                    await self.repo.forget(item)
                except Exception:
                    log.exception("rollback: forget the record of %s failed", item.id)
            self.repo.names.release(self._name)
            return
        log.warning("rollback of %s left %s undone: listed as UNKNOWN", item.id, ", ".join(failed))
        item.committed = False
        item.mark_unknown()
        try:
            await self._put()  # still uncommitted: a restart rolls it back
        except Exception:
            log.exception("rollback: recording %s as UNKNOWN failed", item.id)
        self._list()
