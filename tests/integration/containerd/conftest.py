"""Fixtures for the containerd adapter tests: runtime, IO and a helper to make containers."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.containerd.client import ContainerdClient
from adapters.containerd.io import FifoStreams
from adapters.containerd.runtime import ContainerdRuntime
from adapters.host.logs import HostLogFiles
from domain.model import Image
from domain.stdio import ContainerStdio
from ports.runtime import CreateRequest
from tests.support.containerd import Containerd, minimal_spec


class WallClock:
    def now_ns(self) -> int:
        return time.time_ns()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@pytest.fixture
async def runtime(containerd: Containerd, containerd_client: ContainerdClient) -> ContainerdRuntime:
    return ContainerdRuntime(containerd_client, str(containerd.root / "hexcri-state"))


def fifo_io(containerd: Containerd) -> ContainerStdio:
    """hexcri's stdio pump over the FIFOs of the containerd adapter, as the app wires it."""
    return ContainerStdio(
        FifoStreams(str(containerd.root / "hexcri-state")), HostLogFiles(), WallClock()
    )


@pytest.fixture
async def container_io(containerd: Containerd) -> AsyncIterator[ContainerStdio]:
    io = fifo_io(containerd)
    yield io
    await io.close_all()


MakeContainer = Callable[..., Awaitable[str]]


@pytest.fixture
async def make_container(
    containerd: Containerd,
    runtime: ContainerdRuntime,
    container_io: ContainerStdio,
    busybox_image: Image,
    tmp_path: Path,
) -> AsyncIterator[MakeContainer]:
    """Create (not start) busybox containers with FIFO stdio; deletes them all at the end."""
    made: list[str] = []

    async def make(
        args: list[str], *, tty: bool = False, log: str = "", memory_limit: int = 0
    ) -> str:
        cid = secrets.token_hex(32)
        made.append(cid)
        stdio = await container_io.open(cid, log or str(tmp_path / f"{cid}.log"), tty, False)
        spec = minimal_spec(args, f"{containerd.cgroup_parent}/{cid}", tty=tty)
        if memory_limit:
            linux: Any = spec["linux"]
            linux["resources"]["memory"] = {"limit": memory_limit, "swap": memory_limit}
        await runtime.create(
            CreateRequest(
                id=cid,
                sandbox_id=cid,
                image=busybox_image,
                spec=spec,
                labels={"io.hexcri.kind": "container"},
                stdio=stdio,
            )
        )
        return cid

    yield make
    for cid in made:
        await runtime.delete(cid)
        await container_io.close(cid)
