"""The ContainerRuntime and RuntimeEvents contract: the memory fake and containerd.

Every test speaks only the ports; a per-backend `Driver` makes containers (a spec and an
image each backend can run), waits for an event subscription to be live, and provokes what
the ports cannot (an OOM kill).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from adapters.memory.clock import FakeClock
from adapters.memory.io import MemoryIO
from adapters.memory.runtime import MemoryRuntime
from domain.errors import AlreadyExists, DeadlineExceeded, Internal, NotFound, StillRunning
from domain.ids import new_id
from domain.model import Image, RuntimeContainer, TaskExit, TaskOOM, TaskStatus
from ports.events import RuntimeEvents
from ports.runtime import ContainerRuntime, CreateRequest
from tests.support.containerd import Containerd, minimal_spec

Event = TaskExit | TaskOOM
WAIT = 30.0  # a bound on waiting for an event, so that a missing one fails the test
CGROUP_MEMORY = Path("/sys/fs/cgroup/memory")
SERVER = ["sleep", "1000"]  # runs until killed; as PID 1 it has no signal handlers


@dataclass
class Driver:
    """One backend: its ports, and what the tests need that the ports do not offer."""

    runtime: ContainerRuntime
    events: RuntimeEvents
    image: Image
    cgroup_parent: str = "/hexcri-contract"
    made: list[str] = field(default_factory=list)

    async def make(
        self,
        args: list[str],
        labels: dict[str, str] | None = None,
        memory_limit: int = 0,
        start_soon: bool = False,
    ) -> str:
        """Create (not start) a container running `args`."""
        cid = new_id()
        spec = minimal_spec(args, f"{self.cgroup_parent}/{cid}")
        if memory_limit:
            linux: Any = spec["linux"]
            linux["resources"]["memory"] = {"limit": memory_limit, "swap": memory_limit}
        self.made.append(cid)
        await self.runtime.create(
            CreateRequest(
                id=cid,
                sandbox_id=cid,
                image=self.image,
                spec=spec,
                labels=labels or {},
                start_soon=start_soon,
            )
        )
        return cid

    async def listening(self, seen: asyncio.Queue[Event]) -> None:
        """Return once the subscription feeding `seen` receives events."""
        raise NotImplementedError

    async def start_oom_victim(self) -> str:
        """Start a container that is then killed for lack of memory; returns its ID."""
        raise NotImplementedError

    async def memory_limit(self, container_id: str) -> int:
        """The memory limit the container's task runs with."""
        raise NotImplementedError

    async def close(self) -> None:
        for cid in self.made:
            await self.runtime.delete(cid)


class MemoryDriver(Driver):
    def __init__(self) -> None:
        clock = FakeClock()
        self.fake = MemoryRuntime(clock, MemoryIO())
        super().__init__(runtime=self.fake, events=self.fake, image=Image(id="sha256:" + "b" * 64))

    async def listening(self, seen: asyncio.Queue[Event]) -> None:
        for _ in range(3):  # the pump reaches its first `get`
            await asyncio.sleep(0)

    async def start_oom_victim(self) -> str:
        cid = await self.make(["hog"])
        await self.runtime.start(cid)
        self.fake.oom_kill(cid)
        return cid

    async def memory_limit(self, container_id: str) -> int:
        limit: int = self.fake.resources_of(container_id)["memory"]["limit"]
        return limit


class ContainerdDriver(Driver):
    def __init__(self, containerd: Containerd, image: Image) -> None:
        from adapters.containerd.client import ContainerdClient
        from adapters.containerd.events import ContainerdEvents
        from adapters.containerd.runtime import ContainerdRuntime

        self.client = ContainerdClient(containerd.address, containerd.namespace)
        super().__init__(
            runtime=ContainerdRuntime(self.client, str(containerd.root / "hexcri-state")),
            events=ContainerdEvents(self.client, max_backoff=0.5),
            image=image,
            cgroup_parent=containerd.cgroup_parent,
        )

    async def listening(self, seen: asyncio.Queue[Event]) -> None:
        """Publish exits of a made-up task until one comes back through the subscription."""
        from google.protobuf import any_pb2

        from adapters.containerd import api

        probe = new_id()
        event = any_pb2.Any()
        event.Pack(api.task_events.TaskExit(container_id=probe, id=probe, exit_status=0))
        while True:
            await self.client.events.Publish(
                api.events.PublishRequest(topic="/tasks/exit", event=event)
            )
            with contextlib.suppress(TimeoutError):
                while True:
                    got = await asyncio.wait_for(seen.get(), 0.2)
                    if got.container_id == probe:
                        return

    async def start_oom_victim(self) -> str:
        hog = "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived"
        cid = await self.make(["sh", "-c", hog], memory_limit=16 << 20)
        await self.runtime.start(cid)
        return cid

    async def memory_limit(self, container_id: str) -> int:
        """From the task's memory cgroup (cgroup v1, cgroupfs paths)."""
        path = CGROUP_MEMORY / self.cgroup_parent.lstrip("/") / container_id
        return int((path / "memory.limit_in_bytes").read_text())

    async def close(self) -> None:
        await super().close()
        await self.client.close()


@pytest.fixture(params=["memory", pytest.param("containerd", marks=pytest.mark.containerd)])
async def driver(request: pytest.FixtureRequest) -> AsyncIterator[Driver]:
    made: Driver
    if request.param == "memory":
        made = MemoryDriver()
    else:
        made = ContainerdDriver(
            request.getfixturevalue("containerd"), request.getfixturevalue("busybox_image")
        )
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
def runtime(driver: Driver) -> ContainerRuntime:
    return driver.runtime


class Events:
    """What one subscription delivers while a test runs."""

    def __init__(self, source: RuntimeEvents) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self._task = asyncio.create_task(self._pump(source))

    async def _pump(self, source: RuntimeEvents) -> None:
        async for event in source.subscribe():
            self.queue.put_nowait(event)

    async def until_exit(self, container_id: str) -> list[Event]:
        """The events of `container_id` up to and including its exit."""
        mine: list[Event] = []
        while not (mine and isinstance(mine[-1], TaskExit)):
            event = await asyncio.wait_for(self.queue.get(), WAIT)
            if event.container_id == container_id:
                mine.append(event)
        return mine

    async def exit_of(self, container_id: str) -> TaskExit:
        last = (await self.until_exit(container_id))[-1]
        assert isinstance(last, TaskExit)
        return last

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@pytest.fixture
async def events(driver: Driver) -> AsyncIterator[Events]:
    subscription = Events(driver.events)
    await driver.listening(subscription.queue)
    yield subscription
    await subscription.close()


async def listed(runtime: ContainerRuntime, cid: str) -> RuntimeContainer | None:
    return {c.id: c for c in await runtime.list()}.get(cid)


async def running(driver: Driver, args: list[str] = SERVER) -> tuple[str, int]:
    cid = await driver.make(args)
    return cid, await driver.runtime.start(cid)


# --- create, start, list ----------------------------------------------------------------------


async def test_created_container_is_listed_with_its_labels(driver: Driver) -> None:
    cid = await driver.make(SERVER, labels={"io.hexcri.kind": "container"})
    found = await listed(driver.runtime, cid)
    assert found == RuntimeContainer(
        id=cid, labels={"io.hexcri.kind": "container"}, task=TaskStatus.CREATED
    )


async def test_inspect_tells_one_container_as_the_listing_does(driver: Driver) -> None:
    cid = await driver.make(SERVER, labels={"io.hexcri.kind": "container"})
    created = await driver.runtime.inspect(cid)
    assert created == await listed(driver.runtime, cid)
    assert created.task == TaskStatus.CREATED
    pid = await driver.runtime.start(cid)
    started = await driver.runtime.inspect(cid)
    assert (started.task, started.pid, started.labels) == (
        TaskStatus.RUNNING,
        pid,
        {"io.hexcri.kind": "container"},
    )
    with pytest.raises(NotFound):
        await driver.runtime.inspect(new_id())


async def test_create_twice_is_already_exists(driver: Driver) -> None:
    cid = await driver.make(SERVER)
    with pytest.raises(AlreadyExists):
        await driver.runtime.create(
            CreateRequest(id=cid, sandbox_id=cid, image=driver.image, spec=minimal_spec([], "/x"))
        )
    assert (await listed(driver.runtime, cid)) is not None


async def test_start_returns_the_pid_of_a_running_task(driver: Driver) -> None:
    cid, pid = await running(driver)
    assert pid > 0
    found = await listed(driver.runtime, cid)
    assert found is not None and (found.task, found.pid) == (TaskStatus.RUNNING, pid)


async def test_start_of_a_started_task_fails(driver: Driver) -> None:
    cid, pid = await running(driver)
    with pytest.raises(Internal):
        await driver.runtime.start(cid)
    found = await listed(driver.runtime, cid)
    assert found is not None and (found.task, found.pid) == (TaskStatus.RUNNING, pid)


async def test_a_task_made_ahead_is_started_later(driver: Driver) -> None:
    cid = await driver.make(SERVER, start_soon=True)
    made = await listed(driver.runtime, cid)
    assert made is not None and made.task == TaskStatus.CREATED
    pid = await driver.runtime.start(cid)
    found = await listed(driver.runtime, cid)
    assert found is not None and (found.task, found.pid) == (TaskStatus.RUNNING, pid)


async def test_delete_of_a_task_made_ahead_leaves_nothing(driver: Driver) -> None:
    cid = await driver.make(SERVER, start_soon=True)
    await driver.runtime.delete(cid)
    assert await listed(driver.runtime, cid) is None
    with pytest.raises(NotFound):
        await driver.runtime.start(cid)


# --- exits, signals, reaping ------------------------------------------------------------------


async def test_exit_is_an_event_and_the_listing_agrees(driver: Driver, events: Events) -> None:
    cid, pid = await running(driver, ["sh", "-c", "exit 3"])
    exited = await events.exit_of(cid)
    assert (exited.exit_code, exited.pid) == (3, pid) and exited.exited_at > 0
    found = await listed(driver.runtime, cid)
    assert found == RuntimeContainer(
        id=cid, task=TaskStatus.STOPPED, pid=pid, exit_code=3, exited_at=exited.exited_at
    )


async def test_sigkill_ends_the_task_with_137(driver: Driver, events: Events) -> None:
    cid, _ = await running(driver)
    await driver.runtime.kill(cid, signal.SIGKILL)
    assert (await events.exit_of(cid)).exit_code == 128 + signal.SIGKILL
    await driver.runtime.kill(cid, signal.SIGKILL)  # exited: no error


async def test_init_without_handlers_ignores_sigterm(driver: Driver, events: Events) -> None:
    """PID 1 of a container ignores signals it has no handler for; SIGKILL still ends it."""
    cid, _ = await running(driver)
    await driver.runtime.kill(cid, signal.SIGTERM)
    assert (await driver.runtime.exec_sync(cid, ["true"], WAIT)).exit_code == 0
    found = await listed(driver.runtime, cid)
    assert found is not None and found.task == TaskStatus.RUNNING
    await driver.runtime.kill(cid, signal.SIGKILL)
    assert (await events.exit_of(cid)).exit_code == 128 + signal.SIGKILL


async def test_exits_of_execs_are_not_container_exits(driver: Driver, events: Events) -> None:
    cid, _ = await running(driver)
    assert (await driver.runtime.exec_sync(cid, ["sh", "-c", "exit 4"], WAIT)).exit_code == 4
    await driver.runtime.kill(cid, signal.SIGKILL)
    [exited] = await events.until_exit(cid)  # nothing of the exec came first
    assert isinstance(exited, TaskExit) and exited.exit_code == 128 + signal.SIGKILL


async def test_reap_releases_an_exited_task(driver: Driver, events: Events) -> None:
    cid, _ = await running(driver, ["sh", "-c", "exit 2"])
    await events.exit_of(cid)
    await driver.runtime.reap(cid)
    assert await listed(driver.runtime, cid) == RuntimeContainer(id=cid, task=TaskStatus.ABSENT)
    await driver.runtime.reap(cid)  # idempotent
    await driver.runtime.kill(cid, signal.SIGKILL)  # no task: no error
    with pytest.raises(NotFound):
        await driver.runtime.start(cid)


async def test_reap_of_a_running_task_fails(driver: Driver) -> None:
    cid, pid = await running(driver)
    with pytest.raises(Internal):
        await driver.runtime.reap(cid)
    found = await listed(driver.runtime, cid)
    assert found is not None and (found.task, found.pid) == (TaskStatus.RUNNING, pid)


async def test_a_running_task_is_still_running_to_reap(driver: Driver, events: Events) -> None:
    """ "Still running" is the port's own answer, whatever the backend's error code."""
    cid, _ = await running(driver)
    with pytest.raises(StillRunning):
        await driver.runtime.reap(cid)
    await driver.runtime.kill(cid, signal.SIGKILL)
    await events.exit_of(cid)
    await driver.runtime.reap(cid)


async def test_oom_kill_is_reported_before_the_exit(driver: Driver, events: Events) -> None:
    cid = await driver.start_oom_victim()
    seen = await events.until_exit(cid)
    assert TaskOOM(container_id=cid) in seen[:-1]


# --- delete -----------------------------------------------------------------------------------


async def test_delete_removes_the_container_and_is_idempotent(driver: Driver) -> None:
    cid = await driver.make(SERVER)
    await driver.runtime.delete(cid)
    assert await listed(driver.runtime, cid) is None
    await driver.runtime.delete(cid)
    with pytest.raises(NotFound):
        await driver.runtime.start(cid)


async def test_delete_of_a_running_container_kills_it(driver: Driver, events: Events) -> None:
    cid, pid = await running(driver)
    await driver.runtime.delete(cid)
    assert await listed(driver.runtime, cid) is None
    exited = await events.exit_of(cid)
    assert (exited.exit_code, exited.pid) == (128 + signal.SIGKILL, pid)


async def test_unknown_container(runtime: ContainerRuntime) -> None:
    unknown = new_id()
    await runtime.kill(unknown, signal.SIGKILL)
    await runtime.reap(unknown)
    await runtime.delete(unknown)
    for call in (
        runtime.start(unknown),
        runtime.exec_sync(unknown, ["true"], WAIT),
        runtime.update_resources(unknown, {"cpu": {"shares": 512}}),
        runtime.stats(unknown),
    ):
        with pytest.raises(NotFound):
            await call
    assert await listed(runtime, unknown) is None


# --- exec -------------------------------------------------------------------------------------


async def test_exec_sync_collects_output_and_exit_code(driver: Driver) -> None:
    cid, _ = await running(driver)
    result = await driver.runtime.exec_sync(
        cid, ["sh", "-c", "echo out; echo err >&2; exit 7"], WAIT
    )
    assert (result.stdout, result.stderr, result.exit_code) == (b"out\n", b"err\n", 7)
    ok = await driver.runtime.exec_sync(cid, ["echo", "a", "b"], None)
    assert (ok.stdout, ok.stderr, ok.exit_code) == (b"a b\n", b"", 0)


async def test_exec_sync_keeps_the_first_limit_bytes_of_each_stream(driver: Driver) -> None:
    """What comes after is read and dropped: the command is not held up by a full pipe."""
    cid, _ = await running(driver)
    flood = "head -c 300000 /dev/zero; echo err >&2; exit 5"
    result = await driver.runtime.exec_sync(cid, ["sh", "-c", flood], WAIT, 1000)
    assert (result.stdout, result.stderr, result.exit_code) == (bytes(1000), b"err\n", 5)


async def test_exec_sync_timeout(driver: Driver) -> None:
    cid, _ = await running(driver)
    with pytest.raises(DeadlineExceeded):
        await driver.runtime.exec_sync(cid, ["sleep", "60"], 0.3)
    after = await driver.runtime.exec_sync(cid, ["echo", "still here"], WAIT)
    assert after.stdout == b"still here\n"


async def test_exec_sync_needs_a_running_task(driver: Driver, events: Events) -> None:
    created = await driver.make(SERVER)
    with pytest.raises(NotFound):
        await driver.runtime.exec_sync(created, ["true"], WAIT)
    done, _ = await running(driver, ["true"])
    await events.exit_of(done)
    with pytest.raises(Internal):
        await driver.runtime.exec_sync(done, ["true"], WAIT)


# --- resources, stats, readiness --------------------------------------------------------------


async def test_update_resources_of_a_running_task(driver: Driver, events: Events) -> None:
    resources = {"memory": {"limit": 64 << 20, "swap": 64 << 20}, "cpu": {"shares": 512}}
    cid, _ = await running(driver)
    await driver.runtime.update_resources(cid, resources)
    assert await driver.memory_limit(cid) == 64 << 20
    found = await listed(driver.runtime, cid)
    assert found is not None and found.task == TaskStatus.RUNNING
    done, _ = await running(driver, ["true"])
    await events.exit_of(done)
    with pytest.raises(Internal):
        await driver.runtime.update_resources(done, resources)


async def test_stats_report_the_memory_limit(driver: Driver) -> None:
    cid = await driver.make(SERVER, memory_limit=64 << 20)
    await driver.runtime.start(cid)
    stats = await driver.runtime.stats(cid)
    assert stats.memory_limit_bytes == 64 << 20
    assert stats.memory_available_bytes == (64 << 20) - stats.memory_working_set_bytes


async def test_update_resources_before_start_reach_the_task(driver: Driver) -> None:
    created = await driver.make(SERVER, memory_limit=256 << 20)
    await driver.runtime.update_resources(created, {"memory": {"limit": 48 << 20}})
    await driver.runtime.start(created)
    assert await driver.memory_limit(created) == 48 << 20


async def test_stats_of_a_running_task(driver: Driver, events: Events) -> None:
    cid, _ = await running(driver)
    await driver.runtime.exec_sync(cid, ["true"], WAIT)
    stats = await driver.runtime.stats(cid)
    assert stats.container_id == cid and stats.timestamp > 0
    assert stats.cpu_usage_core_ns > 0
    assert 0 < stats.memory_working_set_bytes <= stats.memory_usage_bytes
    assert 0 < stats.memory_rss_bytes <= stats.memory_usage_bytes
    assert stats.memory_page_faults > 0 and stats.memory_major_page_faults >= 0
    assert stats.memory_limit_bytes == 0  # none set: none reported, never the kernel's huge one
    assert stats.process_count >= 1
    assert stats.writable_layer_mountpoint.startswith("/")
    assert stats.writable_layer_bytes > 0 and stats.writable_layer_inodes >= 1
    again = await driver.runtime.stats(cid)  # counters only grow
    assert again.timestamp > stats.timestamp
    assert again.cpu_usage_core_ns >= stats.cpu_usage_core_ns
    assert again.memory_page_faults >= stats.memory_page_faults
    created = await driver.make(SERVER)
    with pytest.raises(NotFound):  # no task yet
        await driver.runtime.stats(created)
    done, _ = await running(driver, ["true"])
    await events.exit_of(done)
    await driver.runtime.reap(done)
    with pytest.raises(NotFound):  # no task any more
        await driver.runtime.stats(done)


async def test_ready(driver: Driver) -> None:
    assert await driver.runtime.ready() is True


@pytest.fixture(params=["memory", pytest.param("containerd", marks=pytest.mark.containerd)])
async def down(request: pytest.FixtureRequest) -> AsyncIterator[ContainerRuntime]:
    """A runtime whose backend does not answer."""
    if request.param == "memory":
        clock = FakeClock()
        fake = MemoryRuntime(clock, MemoryIO())
        fake.available = False
        yield fake
        return
    from adapters.containerd.client import ContainerdClient
    from adapters.containerd.runtime import ContainerdRuntime

    client = ContainerdClient(f"/tmp/hexcri-contract-{new_id()[:8]}.sock", reconnect_timeout=0.1)
    yield ContainerdRuntime(client, "/tmp")
    await client.close()


async def test_not_ready_when_the_backend_is_down(down: ContainerRuntime) -> None:
    assert await down.ready() is False
