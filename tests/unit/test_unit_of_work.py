"""The unit of work over the pod repository: commit, rollback, a failed undo left UNKNOWN
for a later Stop/Remove, events published only on commit."""

from __future__ import annotations

import json

import pytest

from adapters.memory.backend import MemoryBackend
from adapters.memory.clock import FakeClock
from adapters.memory.state import MemoryStateStore
from domain.errors import AlreadyExists, Internal
from domain.eventbus import EventBus
from domain.filters import SandboxFilter, match_sandbox
from domain.model import (
    Container,
    ContainerEvent,
    ContainerEventType,
    ContainerState,
    Sandbox,
    SandboxState,
)
from domain.services.rollback import Rollback
from domain.services.unit_of_work import PodRepository
from tests.support.harness import Harness
from tests.unit.conftest import container, pod


class RecordingBus(EventBus):
    """An event bus that keeps what was published."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[ContainerEvent] = []

    def publish(self, event: ContainerEvent) -> None:
        self.published.append(event)
        super().publish(event)


@pytest.fixture
def repo() -> PodRepository:
    return PodRepository(MemoryStateStore(), FakeClock(), RecordingBus())


def published(repo: PodRepository) -> list[ContainerEventType]:
    assert isinstance(repo.bus, RecordingBus)
    return [e.type for e in repo.bus.published]


def recorded(repo: PodRepository, object_id: str) -> dict[str, object] | None:
    assert isinstance(repo.state, MemoryStateStore)
    text = repo.state.containers.get(object_id) or repo.state.sandboxes.get(object_id)
    return json.loads(text) if text else None


def new_container(cid: str = "c" * 64) -> Container:
    return Container(id=cid, sandbox_id="s" * 64, config=container())


class Boom(Exception):
    pass


async def test_commit_records_lists_names_and_publishes_together(repo: PodRepository) -> None:
    item = new_container()
    async with repo.creating(item, "app_web") as uow:
        await uow.record()
        assert recorded(repo, item.id) == {**recorded(repo, item.id), "committed": False}  # type: ignore[dict-item]
        assert repo.containers.lookup(item.id) is None  # not listed before the commit
        assert published(repo) == []
        await uow.commit()
    assert recorded(repo, item.id)["committed"] is True  # type: ignore[index]
    assert repo.containers.lookup(item.id) is item
    assert repo.names.owner("app_web") == item.id
    assert published(repo) == [ContainerEventType.CREATED]
    assert item.events == []


async def test_a_taken_name_is_already_exists_and_changes_nothing(repo: PodRepository) -> None:
    repo.names.reserve("app_web", "other")
    with pytest.raises(AlreadyExists):
        async with repo.creating(new_container(), "app_web"):
            pass
    assert repo.names.owner("app_web") == "other"


async def test_rollback_runs_undo_newest_first_and_forgets_everything(
    repo: PodRepository,
) -> None:
    item = new_container()
    done: list[str] = []
    with pytest.raises(Boom):
        async with repo.creating(item, "app_web") as uow:
            await uow.record()
            uow.on_rollback("first", lambda: done.append("first"))
            uow.on_rollback("second", lambda: done.append("second"))
            raise Boom
    assert done == ["second", "first"]
    assert recorded(repo, item.id) is None
    assert repo.containers.lookup(item.id) is None
    assert repo.names.owner("app_web") is None
    assert published(repo) == []


async def test_a_failed_undo_leaves_the_object_listed_unknown(repo: PodRepository) -> None:
    item = new_container()
    done: list[str] = []

    def failing() -> None:
        raise Internal("shim gone")

    with pytest.raises(Boom):
        async with repo.creating(item, "app_web") as uow:
            await uow.record()
            uow.on_rollback("close stdio", lambda: done.append("close stdio"))
            uow.on_rollback("delete container", failing)
            raise Boom
    assert done == ["close stdio"]  # the other steps still run
    assert repo.containers.lookup(item.id) is item
    assert item.state == ContainerState.UNKNOWN
    assert repo.names.owner("app_web") == item.id  # held until a removal
    record = recorded(repo, item.id)
    assert record is not None and record["committed"] is False  # a restart rolls it back
    assert published(repo) == []
    async with repo.changing(item) as uow:
        await uow.remove()
    assert repo.containers.lookup(item.id) is None
    assert repo.names.owner("app_web") is None
    assert recorded(repo, item.id) is None
    assert published(repo) == [ContainerEventType.DELETED]


async def test_events_are_published_only_on_commit(repo: PodRepository) -> None:
    item = new_container()
    async with repo.creating(item, "app_web") as uow:
        await uow.commit()
    with pytest.raises(Boom):
        async with repo.changing(item) as uow:
            item.mark_started(42, 1)
            raise Boom
    assert item.events == []  # dropped with the change that failed
    assert published(repo) == [ContainerEventType.CREATED]
    async with repo.changing(item) as uow:
        item.mark_exited(0, 2)
        await uow.commit()
    assert published(repo) == [ContainerEventType.CREATED, ContainerEventType.STOPPED]
    assert repo.exits.event(item.id).is_set()  # the exit is signalled on commit


async def test_a_sandbox_change_is_recorded_on_commit(repo: PodRepository) -> None:
    sandbox = Sandbox(id="s" * 64, config=pod())
    async with repo.creating(sandbox, sandbox.name) as uow:
        sandbox.mark_ready(7)
        await uow.commit()
    async with repo.changing(sandbox) as uow:
        sandbox.mark_not_ready()
        await uow.commit()
    assert recorded(repo, sandbox.id)["state"] == SandboxState.NOTREADY  # type: ignore[index]
    assert repo.sandboxes.get(sandbox.id) is sandbox


async def test_rollback_reports_the_steps_that_failed() -> None:
    undo = Rollback()
    undo.push("fine", lambda: None)
    undo.push("broken", lambda: 1 / 0)
    assert await undo.run() == ["broken"]


# --- through the use cases ------------------------------------------------------------------


def fail_sandbox_undo(monkeypatch: pytest.MonkeyPatch, backend: MemoryBackend) -> None:
    """The pause container fails to start, and deleting it fails too."""

    async def failing_start(container_id: str) -> int:
        raise Internal("pause failed to start")

    async def unreachable(container_id: str) -> None:
        raise Internal("shim unreachable")

    monkeypatch.setattr(backend.runtime, "start", failing_start)
    monkeypatch.setattr(backend.runtime, "delete", unreachable)


async def test_a_container_whose_undo_failed_is_removed_by_remove_container(
    ctx: Harness, backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    await ctx.image_pull.pull_image("busybox")

    async def refused(request: object) -> None:
        raise Internal("runc refused")

    async def unreachable(container_id: str) -> None:
        raise Internal("shim unreachable")

    real_create, real_delete = backend.runtime.create, backend.runtime.delete
    monkeypatch.setattr(backend.runtime, "create", refused)
    monkeypatch.setattr(backend.runtime, "delete", unreachable)
    with pytest.raises(Internal, match="runc refused"):
        await ctx.container_create.create_container(sid, container())
    [left] = ctx.containers.of_sandbox(sid)
    assert left.state == ContainerState.UNKNOWN
    with pytest.raises(AlreadyExists):  # its name is held until it is removed
        await ctx.container_create.create_container(sid, container())
    await ctx.container_stop.stop_container(left.id, 0)  # nothing runs: a no-op
    monkeypatch.setattr(backend.runtime, "delete", real_delete)
    monkeypatch.setattr(backend.runtime, "create", real_create)
    await ctx.container_remove.remove_container(left.id)
    await ctx.cleanups.wait()
    assert ctx.containers.find(left.id) is None
    assert left.id not in backend.state.containers
    assert left.id not in backend.io._pipes
    cid = await ctx.container_create.create_container(sid, container())  # the name is free
    assert ctx.containers.get(cid).state == ContainerState.CREATED


async def test_a_sandbox_whose_undo_failed_is_unknown_shown_notready_until_removed(
    ctx: Harness, backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_delete = backend.runtime.delete
    fail_sandbox_undo(monkeypatch, backend)
    with pytest.raises(Internal, match="pause failed"):
        await ctx.sandbox_run.run_pod_sandbox(pod())
    [left] = ctx.sandboxes.all()
    assert left.state == SandboxState.UNKNOWN
    assert left.state.shown == SandboxState.NOTREADY
    assert match_sandbox(SandboxFilter(state=SandboxState.NOTREADY), left)
    assert backend.runtime.has(left.id)  # what is left of it
    monkeypatch.setattr(backend.runtime, "delete", real_delete)
    await ctx.sandbox_stop.stop_pod_sandbox(left.id)
    assert left.state == SandboxState.NOTREADY
    assert not backend.runtime.has(left.id)
    assert backend.netns.paths == set() or left.netns_path == ""
    assert backend.network.allocations == {}
    await ctx.sandbox_remove.remove_pod_sandbox(left.id)
    assert ctx.sandboxes.all() == []
    assert backend.state.sandboxes == {}
    assert backend.files.files == {}
    assert dict(ctx.names._owners) == {}


async def test_a_restart_rolls_back_what_a_failed_undo_left(
    ctx: Harness, backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_delete = backend.runtime.delete
    fail_sandbox_undo(monkeypatch, backend)
    with pytest.raises(Internal):
        await ctx.sandbox_run.run_pod_sandbox(pod())
    [left] = ctx.sandboxes.all()
    monkeypatch.setattr(backend.runtime, "delete", real_delete)
    fresh = Harness(ports=backend.ports())
    await fresh.recovery.recover()  # the record is still uncommitted: rolled back
    assert fresh.sandboxes.all() == []
    assert backend.state.sandboxes == {}
    assert not backend.runtime.has(left.id)
    assert backend.network.allocations == {}
