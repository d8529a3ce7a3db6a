"""Issue 11, item 3: operations on one container or sandbox are serialised by per-object
locks (the use cases on the memory fakes, with a runtime that takes its time as containerd
does, so that concurrent calls really overlap)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from adapters.memory.backend import MemoryBackend
from domain.errors import FailedPrecondition, HexcriError, NotFound
from domain.model import ContainerState
from domain.services.locks import ObjectLocks
from tests.support.harness import Harness
from tests.unit.conftest import container, pod, settle


def slow(
    monkeypatch: pytest.MonkeyPatch, backend: MemoryBackend, method: str, ticks: int = 5
) -> list[str]:
    """Make a runtime method yield to the loop a few times first (as a call to containerd
    does); returns the IDs it was called with."""
    calls: list[str] = []
    real: Callable[..., Awaitable[object]] = getattr(backend.runtime, method)

    async def slowed(container_id: str, *args: object) -> object:
        calls.append(container_id)
        for _ in range(ticks):
            await asyncio.sleep(0)
        return await real(container_id, *args)

    monkeypatch.setattr(backend.runtime, method, slowed)
    return calls


async def created(ctx: Harness, name: str = "app", pod_name: str = "web", **kw: object) -> str:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod(name=pod_name, uid=f"uid-{pod_name}"))
    await ctx.image_pull.pull_image("busybox")
    return await ctx.container_create.create_container(sid, container(name=name, **kw))


async def nothing_left(ctx: Harness, backend: MemoryBackend, cid: str) -> None:
    assert ctx.containers.find(cid) is None
    await ctx.cleanups.wait()  # the runtime's part runs after the answer
    assert not backend.runtime.has(cid)
    assert not backend.io.is_open(cid)
    assert cid not in backend.state.containers
    assert len(ctx.locks) == 0


async def test_twenty_parallel_starts_give_one_success(
    ctx: Harness, backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = await created(ctx, command=["sleep", "3600"])
    starts = slow(monkeypatch, backend, "start")
    outcomes = await asyncio.gather(
        *(ctx.container_start.start_container(cid) for _ in range(20)), return_exceptions=True
    )
    successes = [o for o in outcomes if o is None]
    failures = [o for o in outcomes if o is not None]
    assert len(successes) == 1
    assert all(isinstance(f, FailedPrecondition) for f in failures), failures
    assert all("is RUNNING, not CREATED" in str(f) for f in failures)
    assert starts == [cid]  # one call reached the runtime
    assert ctx.container_query.container_status(cid).state == ContainerState.RUNNING
    assert len(ctx.locks) == 0


async def test_remove_racing_start_leaves_nothing(
    ctx: Harness, backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Start first: it completes, then the removal kills and removes what started."""
    cid = await created(ctx, command=["sleep", "3600"])
    slow(monkeypatch, backend, "start")
    start, remove = await asyncio.gather(
        ctx.container_start.start_container(cid),
        ctx.container_remove.remove_container(cid),
        return_exceptions=True,
    )
    assert start is None and remove is None
    await nothing_left(ctx, backend, cid)


async def test_start_after_a_removal_it_waited_for_is_not_found(
    ctx: Harness, backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = await created(ctx, command=["sleep", "3600"])
    slow(monkeypatch, backend, "delete")
    remove, start = await asyncio.gather(
        ctx.container_remove.remove_container(cid),
        ctx.container_start.start_container(cid),
        return_exceptions=True,
    )
    assert remove is None
    assert isinstance(start, NotFound), start
    await nothing_left(ctx, backend, cid)


async def test_stop_racing_start_ends_exited(
    ctx: Harness, backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stop waits for the start, then stops what it started (never a task left running
    in a container that reports EXITED)."""
    cid = await created(ctx, command=["sleep", "3600"])
    slow(monkeypatch, backend, "start")
    start = asyncio.ensure_future(ctx.container_start.start_container(cid))
    await asyncio.sleep(0)  # the start holds the container's lock
    await ctx.container_stop.stop_container(cid, 0)
    await start
    await settle()
    assert ctx.container_query.container_status(cid).state == ContainerState.EXITED
    with pytest.raises(NotFound):
        await backend.runtime.exec_sync(cid, ["true"], None)  # no live task


async def test_remove_pod_racing_create_leaves_no_orphan(
    ctx: Harness, backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    await ctx.image_pull.pull_image("busybox")
    slow(monkeypatch, backend, "create")
    create, remove = await asyncio.gather(
        ctx.container_create.create_container(sid, container()),
        ctx.sandbox_remove.remove_pod_sandbox(sid),
        return_exceptions=True,
    )
    assert remove is None
    assert isinstance(create, str)  # it held the pod first; the removal then took it along
    assert not ctx.containers.all() and not ctx.sandboxes.all()
    assert not await backend.runtime.list()
    assert not backend.state.containers and not backend.state.sandboxes
    assert len(ctx.locks) == 0


async def test_create_after_a_pod_removal_it_waited_for_is_not_found(
    ctx: Harness, backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    await ctx.image_pull.pull_image("busybox")
    slow(monkeypatch, backend, "delete")
    removal = asyncio.ensure_future(ctx.sandbox_remove.remove_pod_sandbox(sid))
    await settle()  # the removal holds the pod's lock
    with pytest.raises(NotFound):
        await ctx.container_create.create_container(sid, container())
    await removal
    assert not ctx.containers.all() and not await backend.runtime.list()


async def test_pod_stop_and_container_operations_do_not_deadlock(
    ctx: Harness, backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sandbox operations take the pod's lock, then its containers'; container operations
    the pod's (shared), then their own: in any mix, every call ends."""
    first = await created(ctx, name="c0", command=["sleep", "3600"])
    sid = ctx.containers.get(first).sandbox_id
    cids = [first] + [
        await ctx.container_create.create_container(sid, container(name=f"c{n}")) for n in (1, 2)
    ]
    slow(monkeypatch, backend, "start")
    slow(monkeypatch, backend, "kill")
    calls = [
        *(ctx.container_start.start_container(c) for c in cids),
        ctx.sandbox_stop.stop_pod_sandbox(sid),
        *(ctx.container_stop.stop_container(c, 0) for c in cids),
        *(ctx.container_remove.remove_container(c) for c in cids[:2]),
        ctx.sandbox_remove.remove_pod_sandbox(sid),
    ]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert all(o is None or isinstance(o, HexcriError) for o in outcomes), outcomes
    assert not ctx.containers.all() and not ctx.sandboxes.all()
    assert not await backend.runtime.list()
    assert len(ctx.locks) == 0


async def test_a_long_stop_holds_up_only_its_own_container(
    ctx: Harness, backend: MemoryBackend
) -> None:
    """Locks are per object: another pod's start goes ahead while a stop waits out its grace
    period (a shell as PID 1 ignores SIGTERM)."""
    slow_one = await created(ctx, name="a", pod_name="a", command=["sleep", "3600"])
    await ctx.container_start.start_container(slow_one)
    other = await created(ctx, name="b", pod_name="b", command=["sleep", "3600"])
    stopping = asyncio.ensure_future(ctx.container_stop.stop_container(slow_one, 3600))
    await settle()
    await ctx.container_start.start_container(other)
    assert ctx.container_query.container_status(other).state == ContainerState.RUNNING
    assert not stopping.done()
    backend.runtime.exit_container(slow_one, 0)
    await stopping
    assert len(ctx.locks) == 0


async def test_a_cancelled_start_still_completes_under_its_lock(
    ctx: Harness, backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that goes away does not cut a start in half: the next call waits for it."""
    cid = await created(ctx, command=["sleep", "3600"])
    slow(monkeypatch, backend, "start")
    first = asyncio.ensure_future(ctx.container_start.start_container(cid))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(FailedPrecondition, match="is RUNNING, not CREATED"):
        await ctx.container_start.start_container(cid)
    assert first.cancelled()


# --- the locks themselves -----------------------------------------------------------------


async def test_exclusive_holders_take_turns_in_arrival_order() -> None:
    locks = ObjectLocks()
    order: list[int] = []

    async def hold(n: int) -> None:
        async with locks.exclusive("x"):
            order.append(n)
            await asyncio.sleep(0)
            order.append(n)

    await asyncio.gather(*(hold(n) for n in range(4)))
    assert order == [0, 0, 1, 1, 2, 2, 3, 3]
    assert len(locks) == 0


async def test_shared_holders_overlap_but_not_with_an_exclusive_one() -> None:
    locks = ObjectLocks()
    inside: list[str] = []
    seen: list[list[str]] = []

    async def hold(kind: str) -> None:
        ctx = locks.exclusive("x") if kind == "w" else locks.shared("x")
        async with ctx:
            inside.append(kind)
            await asyncio.sleep(0)
            seen.append(sorted(inside))
            inside.remove(kind)

    await asyncio.gather(hold("r"), hold("r"), hold("w"), hold("r"))
    assert ["r", "r"] in seen  # the first two readers overlapped
    assert all(s == ["w"] or "w" not in s for s in seen)  # the writer was alone
    assert len(locks) == 0


async def test_a_cancelled_waiter_leaves_no_trace() -> None:
    locks = ObjectLocks()
    async with locks.exclusive("x"):
        waiter = asyncio.ensure_future(locks.exclusive("x").__aenter__())
        reader = asyncio.ensure_future(locks.shared("x").__aenter__())
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.sleep(0)
    await reader  # the reader behind the cancelled writer got the lock
    async with locks.shared("x"):
        pass
    assert waiter.cancelled()
    assert len(locks) == 1  # the reader still holds it
    locks._release("x", False)
    assert len(locks) == 0


async def test_locks_of_different_objects_are_independent() -> None:
    locks = ObjectLocks()
    async with locks.exclusive("a"), locks.exclusive("b"):
        assert len(locks) == 2
    assert len(locks) == 0
