"""Start-up recovery in two steps, so that the CRI answers at once after a restart.

`Reconciler.restore` rebuilds the stores from the record alone and re-opens the stdio FIFOs
of live containers before anything else (no runtime call: nothing can block on a shim, and a
shim never waits on a reader that is gone). Then `Reconciler.run`, in the background, matches
every recorded object with the runtime's container and task until each is settled: RUNNING,
EXITED with the real exit code and time, or gone. A task whose shim does not answer in time
(UNKNOWN) keeps its recorded state and is asked again: no state is derived from a timeout.
Besides, it rolls back what a crash left half-made, releases what interrupted calls left in
the runtime and removes the runtime containers and networks no recorded sandbox owns.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import partial

from domain.errors import AlreadyExists, NotFound
from domain.model import (
    Container,
    ContainerState,
    RuntimeContainer,
    Sandbox,
    SandboxState,
    TaskExit,
    TaskStatus,
)
from domain.names import container_name
from domain.pods import KIND_LABEL, log_path, network_request
from domain.services.exits import Exits
from domain.services.locks import ObjectLocks
from domain.services.rollback import Rollback
from domain.services.serial import holding
from domain.services.unit_of_work import PodRepository
from domain.store import ImageIndex
from ports.clock import Clock
from ports.files import SandboxFiles
from ports.images import ImageStore
from ports.io import ContainerIO
from ports.network import NetworkNamespaces, PodNetwork, PodNetworkRequest
from ports.runtime import ContainerRuntime

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0  # between two passes over what is not settled yet
IMAGES_WAIT = 0.5  # how long `restore` waits for the image list before leaving it to `run`
UNKNOWN_EXIT_CODE = 255  # a task gone without a trace, as containerd's CRI records it
GONE_MESSAGE = "the container's task was gone when hexcri restarted"
LIVE = (ContainerState.CREATED, ContainerState.RUNNING, ContainerState.UNKNOWN)


@dataclass(frozen=True)
class Recovery:
    """What recovery works with; `reconciler()` makes one run's state."""

    pods: PodRepository
    images: ImageIndex
    image_store: ImageStore
    runtime: ContainerRuntime
    io: ContainerIO
    network: PodNetwork
    netns: NetworkNamespaces
    files: SandboxFiles
    clock: Clock
    recorder: Exits
    reconciling: set[str]
    locks: ObjectLocks  # an object is matched under its lock: a call in flight ends first

    def reconciler(self) -> Reconciler:
        return Reconciler(self)

    async def recover(self) -> Reconciler:
        """Restore and reconcile in one go (tests, tools): returns the reconciler, whose
        `pending` holds what the runtime could not tell yet."""
        reconciler = Reconciler(self)
        await reconciler.restore()
        await reconciler.reconcile_once()
        return reconciler


class Reconciler:
    """The record first, the runtime's word after it; see the module docstring."""

    def __init__(self, deps: Recovery) -> None:
        self.deps = deps
        # everything older than this was made before this process: no running call owns it
        self.started_ns = deps.clock.now_ns()
        self.pending = deps.reconciling  # sandbox and container ids not matched yet
        self._interrupted: list[Sandbox | Container] = []  # not committed: rolled back
        self._images_loaded = False
        self._released = False
        self._swept = False
        self._unanswered: set[str] = set()

    # --- from the record ------------------------------------------------------------------

    async def restore(self) -> None:
        """Fill the stores from the record and re-open live containers' stdio; no runtime
        call but a bounded wait for the image list."""
        deps = self.deps
        sandboxes, containers = await deps.pods.records()
        known: set[str] = set()
        for sandbox in sandboxes:
            if not sandbox.committed:
                self._interrupted.append(sandbox)
                continue
            try:
                deps.pods.restore_sandbox(sandbox)
            except AlreadyExists:
                log.warning("recovery: sandbox %s holds a taken name %s", sandbox.id, sandbox.name)
            known.add(sandbox.id)
            self.pending.add(sandbox.id)
        for container in containers:
            if not container.committed or container.sandbox_id not in known:
                self._interrupted.append(container)
                continue
            sandbox = deps.pods.sandboxes.get(container.sandbox_id)
            deps.pods.restore_container(container, container_name(container.config, sandbox))
            if container.state in LIVE:
                self.pending.add(container.id)
                await self._open_stdio(container, sandbox)
            else:
                deps.pods.exits.set(container.id)
        try:
            await asyncio.wait_for(self._load_images(), IMAGES_WAIT)
        except Exception as exc:  # the runtime is slow or down: `run` loads them
            log.info("recovery: the image list comes later (%s)", exc or type(exc).__name__)

    async def _open_stdio(self, container: Container, sandbox: Sandbox) -> None:
        try:
            await self.deps.io.open(
                container.id, log_path(container.config, sandbox), container.config.tty,
                container.config.stdin,
            )  # fmt: skip
        except Exception:  # the container stays listed; only its log misses output
            log.exception("recovery: cannot re-attach the stdio of container %s", container.id)

    async def _load_images(self) -> None:
        for image in await self.deps.image_store.list():
            self.deps.images.put(image)
        self._images_loaded = True

    # --- with the runtime ------------------------------------------------------------------

    async def run(self) -> None:
        """Pass after pass, `RETRY_SECONDS` apart, until everything is settled; then a
        second look at every live object, for an exit published before the event
        subscription took effect."""
        await self._until_settled()
        log.info("recovery: every recorded object matches the runtime")
        await self.deps.clock.sleep(RETRY_SECONDS)
        self.pending |= {
            s.id for s in self.deps.pods.sandboxes.all() if s.state == SandboxState.READY
        }
        self.pending |= {c.id for c in self.deps.pods.containers.all() if c.state in LIVE}
        await self._until_settled()

    async def _until_settled(self) -> None:
        while True:
            try:
                if await self.reconcile_once():
                    return
            except Exception as exc:  # the runtime is down or failing: the next pass
                log.warning("recovery: reconciliation goes on later: %s", exc)
            await self.deps.clock.sleep(RETRY_SECONDS)

    async def reconcile_once(self) -> bool:
        """One pass; True when nothing is left to do. Raises when the runtime fails."""
        deps = self.deps
        if not self._released:  # first: an interrupted exec's FIFOs may hold a shim up
            await deps.runtime.release_interrupted(self.started_ns)
            self._released = True
        if not self._images_loaded:
            await self._load_images()
        ids = sorted(self.pending)
        outcomes = await asyncio.gather(*(self._settle(i) for i in ids), return_exceptions=True)
        for object_id, outcome in zip(ids, outcomes, strict=True):
            if outcome is True:
                self.pending.discard(object_id)
            elif isinstance(outcome, BaseException):
                log.warning("recovery: cannot match %s with the runtime: %s", object_id, outcome)
        if not self._swept:
            await self._sweep()
            self._swept = True
        return not self.pending

    async def _settle(self, object_id: str) -> bool:
        """Match one object with the runtime under its lock, as an operation on it would
        hold it: a StartContainer whose task runs but whose reply is not recorded yet ends
        first. True when settled (or no longer ours)."""
        deps = self.deps
        container = deps.pods.containers.lookup(object_id)
        if container is not None:
            async with holding(deps.locks, deps.pods.containers, container) as held:
                return held is None or await self._match(object_id)
        if self._state_of(object_id) is not None:  # a sandbox
            async with deps.locks.exclusive(object_id):
                return await self._match(object_id)
        return await self._match(object_id)

    async def _match(self, object_id: str) -> bool:
        deps = self.deps
        before = self._state_of(object_id)
        try:
            seen: RuntimeContainer | None = await deps.runtime.inspect(object_id)
        except NotFound:
            seen = None
        if seen is not None and seen.task == TaskStatus.UNKNOWN:
            if object_id not in self._unanswered:  # said once, not at every pass
                self._unanswered.add(object_id)
                log.info("recovery: the task of %s does not answer yet", object_id)
            return False
        if self._state_of(object_id) != before:
            return True  # a call changed (or removed) it meanwhile: its word stands
        container = deps.pods.containers.lookup(object_id)
        if container is not None:
            await self._settle_container(container, seen)
            return True
        sandbox = deps.pods.sandboxes.find(object_id) if len(object_id) == 64 else None
        if sandbox is not None and sandbox.id == object_id:
            await self._settle_sandbox(sandbox, seen)
        return True

    def _state_of(self, object_id: str) -> tuple[str, int] | None:
        """What the stores hold for a recorded object now (None: removed)."""
        container = self.deps.pods.containers.lookup(object_id)
        if container is not None:
            return ("container", container.state)
        sandbox = self.deps.pods.sandboxes.find(object_id) if len(object_id) == 64 else None
        if sandbox is not None and sandbox.id == object_id:
            return ("sandbox", sandbox.state)
        return None

    async def _settle_sandbox(self, sandbox: Sandbox, seen: RuntimeContainer | None) -> None:
        """READY iff the pause task exists and runs."""
        running = seen is not None and seen.task == TaskStatus.RUNNING
        if running and seen is not None:
            if sandbox.state != SandboxState.READY or sandbox.pid != seen.pid:
                async with self.deps.pods.changing(sandbox) as uow:
                    sandbox.mark_ready(seen.pid)
                    await uow.commit()
            return
        if sandbox.state == SandboxState.READY:
            log.info("recovery: the pause task of sandbox %s is not running", sandbox.id)
            async with self.deps.pods.changing(sandbox) as uow:
                sandbox.mark_not_ready()
                await uow.commit()
        self.deps.pods.exits.set(sandbox.id)

    async def _settle_container(self, container: Container, seen: RuntimeContainer | None) -> None:
        deps = self.deps
        if container.state == ContainerState.EXITED:
            return  # the exit event came first
        task = seen.task if seen is not None else TaskStatus.ABSENT
        if task == TaskStatus.RUNNING and seen is not None:
            if container.state not in (ContainerState.CREATED, ContainerState.UNKNOWN):
                return
            async with deps.pods.changing(container) as uow:
                if container.state == ContainerState.CREATED:  # the start reply was lost
                    container.mark_started(seen.pid, deps.clock.now_ns())
                else:  # an older hexcri's verdict
                    container.state = ContainerState.RUNNING
                    container.pid = seen.pid
                await uow.commit()
        elif task == TaskStatus.STOPPED and seen is not None:
            at = seen.exited_at or deps.clock.now_ns()
            exit_ = TaskExit(container_id=container.id, exit_code=seen.exit_code, exited_at=at)
            await deps.recorder.record_exit(exit_)
        elif task == TaskStatus.CREATED:
            if container.state == ContainerState.UNKNOWN:
                async with deps.pods.changing(container) as uow:
                    container.state = ContainerState.CREATED
                    await uow.commit()
        else:  # no task, no container: it ended without a trace (or was never started)
            log.info("recovery: container %s has no task: recorded as exited", container.id)
            await deps.io.close(container.id)
            async with deps.pods.changing(container) as uow:
                container.mark_exited(UNKNOWN_EXIT_CODE, deps.clock.now_ns(), GONE_MESSAGE)
                await uow.commit()  # with the exit signal

    # --- what no recorded object owns ------------------------------------------------------

    async def _sweep(self) -> None:
        """Roll back the interrupted objects; remove runtime containers and networks that
        were made before this start and that no record holds.

        The runtime is listed before the record is read again: every call records its object
        before it makes it in the runtime, so a call in flight is never taken for an orphan.
        """
        deps = self.deps
        for item in self._interrupted:
            if isinstance(item, Sandbox):
                await _roll_back_sandbox(deps, item)
            else:
                await _roll_back_container(deps, item)
        self._interrupted.clear()
        listed = await deps.runtime.list()
        owned_networks = await deps.network.owned()
        pins = await deps.netns.list()
        sandboxes, containers = await deps.pods.records()
        recorded = {s.id for s in sandboxes} | {c.id for c in containers}
        undo = Rollback()  # runs every step, logs the ones that fail
        for runtime_container in listed:  # never touch others'
            if KIND_LABEL in runtime_container.labels and runtime_container.id not in recorded:
                undo.push(
                    f"delete orphaned runtime container {runtime_container.id}",
                    partial(deps.runtime.delete, runtime_container.id),
                )
                undo.push(  # a removal's clean-up cut by the crash: its stdio too
                    f"remove the stdio of {runtime_container.id}",
                    partial(deps.io.close, runtime_container.id),
                )
        sandbox_ids = {s.id for s in sandboxes}
        for sandbox_id in set(owned_networks) - sandbox_ids:
            request = PodNetworkRequest(
                sandbox_id=sandbox_id, netns_path="", pod_name="", pod_namespace="", pod_uid=""
            )
            undo.push(f"network teardown of {sandbox_id}", partial(deps.network.teardown, request))
        in_use = {s.netns_path for s in sandboxes if s.netns_path}
        for path in pins:
            if path not in in_use and not any(path.endswith(i) for i in sandbox_ids):
                undo.push(f"remove netns {path}", partial(deps.netns.remove, path))
        await undo.run()


async def _roll_back_sandbox(deps: Recovery, sandbox: Sandbox) -> None:
    log.info("recovery: rolling back interrupted sandbox %s", sandbox.id)
    undo = Rollback()
    undo.push("forget state", lambda: deps.pods.forget(sandbox))
    undo.push("remove files", lambda: deps.files.remove(sandbox.id))
    if sandbox.netns_path:
        undo.push("remove netns", lambda: deps.netns.remove(sandbox.netns_path))
        undo.push("network teardown", lambda: deps.network.teardown(network_request(sandbox)))
    undo.push("delete pause", lambda: deps.runtime.delete(sandbox.id))
    await undo.run()


async def _roll_back_container(deps: Recovery, container: Container) -> None:
    log.info("recovery: rolling back interrupted container %s", container.id)
    undo = Rollback()
    undo.push("forget state", lambda: deps.pods.forget(container))
    undo.push("close stdio", lambda: deps.io.close(container.id))
    undo.push("delete container", lambda: deps.runtime.delete(container.id))
    await undo.run()
