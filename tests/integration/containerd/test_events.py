"""ContainerdEvents: exits of init processes, not of execs; surviving a containerd restart."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator

import pytest

from adapters.containerd.client import ContainerdClient
from adapters.containerd.events import ContainerdEvents
from adapters.containerd.runtime import ContainerdRuntime
from domain.model import TaskExit, TaskOOM
from tests.integration.containerd.conftest import MakeContainer
from tests.support.containerd import Containerd

pytestmark = pytest.mark.containerd

Event = TaskExit | TaskOOM


@pytest.fixture
async def events(containerd_client: ContainerdClient) -> AsyncIterator[asyncio.Queue[Event]]:
    """Every event the subscription yields, in a queue, while the test runs."""
    queue: asyncio.Queue[Event] = asyncio.Queue()
    source = ContainerdEvents(containerd_client, max_backoff=0.5)

    async def pump() -> None:
        async for event in source.subscribe():
            queue.put_nowait(event)

    task = asyncio.create_task(pump())
    await asyncio.sleep(0.2)  # let the subscription reach containerd
    yield queue
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def next_exit(queue: asyncio.Queue[Event], container_id: str) -> TaskExit:
    while True:
        event = await asyncio.wait_for(queue.get(), 30)
        if isinstance(event, TaskExit) and event.container_id == container_id:
            return event


async def test_exit_event_of_the_container_not_of_its_execs(
    runtime: ContainerdRuntime, make_container: MakeContainer, events: asyncio.Queue[Event]
) -> None:
    cid = await make_container(["sleep", "1000"])
    pid = await runtime.start(cid)
    result = await runtime.exec_sync(cid, ["sh", "-c", "exit 4"], 30)
    assert result.exit_code == 4
    await runtime.kill(cid, signal.SIGTERM)
    await runtime.kill(cid, signal.SIGKILL)
    exit_event = await next_exit(events, cid)
    assert exit_event.exit_code == 128 + signal.SIGKILL
    assert exit_event.pid == pid
    assert exit_event.exited_at > 0
    while not events.empty():  # nothing of the exec (it exited with 4) came through
        event = events.get_nowait()
        assert not (isinstance(event, TaskExit) and event.exit_code == 4)


async def test_exit_missed_during_a_containerd_restart_is_reported(
    containerd: Containerd,
    runtime: ContainerdRuntime,
    make_container: MakeContainer,
    events: asyncio.Queue[Event],
) -> None:
    cid = await make_container(["sleep", "1000"])
    pid = await runtime.start(cid)
    await asyncio.to_thread(containerd.stop)
    try:
        os.kill(pid, signal.SIGKILL)  # the container's init process, started by this test
        await asyncio.sleep(0.5)
    finally:
        await asyncio.to_thread(containerd.start)
    exit_event = await next_exit(events, cid)
    assert exit_event.exit_code == 128 + signal.SIGKILL
    # and the stream still delivers new exits after the restart
    other = await make_container(["sh", "-c", "exit 5"])
    await runtime.start(other)
    assert (await next_exit(events, other)).exit_code == 5


async def test_oom_kill_is_reported(
    runtime: ContainerdRuntime, make_container: MakeContainer, events: asyncio.Queue[Event]
) -> None:
    limit = 16 * 1024 * 1024
    hog = "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived"
    cid = await make_container(["sh", "-c", hog], memory_limit=limit)
    await runtime.start(cid)
    seen: list[Event] = []
    while not any(isinstance(e, TaskExit) and e.container_id == cid for e in seen):
        seen.append(await asyncio.wait_for(events.get(), 30))
    assert TaskOOM(container_id=cid) in seen
