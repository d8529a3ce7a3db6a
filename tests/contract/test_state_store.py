"""The StateStore contract, run against the memory fake and the sqlite adapter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.memory.state import MemoryStateStore
from adapters.store.sqlite import SqliteStateStore
from domain.ids import new_id
from domain.model import Container, ContainerState, Sandbox, SandboxState
from ports.state import StateStore
from tests.unit.conftest import container, pod


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    if request.param == "memory":
        yield MemoryStateStore()
        return
    db = SqliteStateStore(str(tmp_path / "state" / "hexcri.db"))
    yield db
    db.close()


async def test_round_trip(store: StateStore) -> None:
    s = Sandbox(
        id=new_id(), config=pod(labels={"a": "b"}), state=SandboxState.READY, ips=("10.0.0.2",)
    )
    c = Container(id=new_id(), sandbox_id=s.id, config=container(command=("x",)), exit_code=3)
    await store.put_sandbox(s)
    await store.put_container(c)
    sandboxes, containers = await store.load()
    assert sandboxes == [s] and containers == [c]


async def test_put_replaces_and_delete_is_idempotent(store: StateStore) -> None:
    c = Container(id=new_id(), sandbox_id=new_id(), config=container())
    await store.put_container(c)
    c.state = ContainerState.EXITED
    await store.put_container(c)
    assert (await store.load())[1][0].state == ContainerState.EXITED
    await store.delete_container(c.id)
    await store.delete_container(c.id)
    await store.delete_sandbox(new_id())
    assert await store.load() == ([], [])


async def test_sqlite_survives_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "hexcri.db")
    first = SqliteStateStore(path)
    s = Sandbox(id=new_id(), config=pod())
    await first.put_sandbox(s)
    first.close()
    second = SqliteStateStore(path)
    assert (await second.load())[0] == [s]
    second.close()
