"""The stdio pump on FIFOs with real shims: CRI log records, tty, reopen, reattach."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from adapters.containerd.runtime import ContainerdRuntime
from domain.logformat import Stream, parse_record
from domain.model import TaskStatus
from domain.stdio import ContainerStdio
from tests.integration.containerd.conftest import MakeContainer, fifo_io
from tests.support.containerd import Containerd

pytestmark = pytest.mark.containerd


async def wait_stopped(runtime: ContainerdRuntime, cid: str) -> None:
    async def poll() -> None:
        while True:
            if {c.id: c for c in await runtime.list()}[cid].task == TaskStatus.STOPPED:
                return
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), 30)


def records(path: Path) -> list[tuple[str, Stream, bool, bytes]]:
    return [parse_record(line) for line in path.read_bytes().splitlines()]


async def test_long_lines_are_split_into_partial_records(
    runtime: ContainerdRuntime,
    container_io: ContainerStdio,
    make_container: MakeContainer,
    tmp_path: Path,
) -> None:
    log = tmp_path / "long.log"
    # 40000 'y' characters then a newline, then a last line without newline
    script = "head -c 40000 /dev/zero | tr '\\0' y; echo; printf tail"
    cid = await make_container(["sh", "-c", script], log=str(log))
    await runtime.start(cid)
    await wait_stopped(runtime, cid)
    await container_io.close(cid)
    got = [(r[1], r[2], len(r[3])) for r in records(log)]
    assert got == [
        (Stream.STDOUT, True, 16384),
        (Stream.STDOUT, True, 16384),
        (Stream.STDOUT, False, 40000 - 2 * 16384),
        (Stream.STDOUT, True, 4),  # no newline at the end: partial, as containerd
    ]
    assert records(log)[-1][3] == b"tail"


async def test_tty_output_is_logged_as_stdout(
    runtime: ContainerdRuntime,
    container_io: ContainerStdio,
    make_container: MakeContainer,
    tmp_path: Path,
) -> None:
    log = tmp_path / "tty.log"
    cid = await make_container(["sh", "-c", "echo on-a-tty >&2"], tty=True, log=str(log))
    await runtime.start(cid)
    await wait_stopped(runtime, cid)
    await container_io.close(cid)
    got = records(log)
    assert [(r[1], r[3].rstrip(b"\r")) for r in got] == [(Stream.STDOUT, b"on-a-tty")]


async def test_reopen_log_after_rotation(
    runtime: ContainerdRuntime,
    container_io: ContainerStdio,
    make_container: MakeContainer,
    tmp_path: Path,
) -> None:
    log = tmp_path / "rotate.log"
    script = "echo first; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo second; sleep 1000"
    cid = await make_container(["sh", "-c", script], log=str(log))
    await runtime.start(cid)
    await wait_for_content(log, b"first")
    rotated = tmp_path / "rotate.log.1"
    log.rename(rotated)
    await container_io.reopen_log(cid)
    assert log.exists()
    await runtime.exec_sync(cid, ["sh", "-c", ": > /tmp/go"], 30)
    await wait_for_content(log, b"second")
    assert [r[3] for r in records(rotated)] == [b"first"]
    assert [r[3] for r in records(log)] == [b"second"]


async def test_reattach_after_a_restart_of_the_io(
    containerd: Containerd,
    runtime: ContainerdRuntime,
    container_io: ContainerStdio,
    make_container: MakeContainer,
    tmp_path: Path,
) -> None:
    log = tmp_path / "reattach.log"
    script = "echo before; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo after; sleep 1000"
    cid = await make_container(["sh", "-c", script], log=str(log))
    await runtime.start(cid)
    await wait_for_content(log, b"before")
    await container_io.close_all()  # hexcri goes away; the FIFOs stay
    await runtime.exec_sync(cid, ["sh", "-c", ": > /tmp/go"], 30)
    await asyncio.sleep(0.2)  # "after" waits in the FIFO, while the container runs
    revived = fifo_io(containerd)
    await revived.open(cid, str(log), False, False)  # the shim kept the FIFOs open
    await wait_for_content(log, b"after")
    await runtime.kill(cid, 9)
    await wait_stopped(runtime, cid)
    await revived.close(cid)
    assert [r[3] for r in records(log)] == [b"before", b"after"]


async def wait_for_content(path: Path, needle: bytes) -> None:
    deadline = time.monotonic() + 30
    while not await asyncio.to_thread(_holds, path, needle):
        assert time.monotonic() < deadline, f"{needle!r} never reached {path}"
        await asyncio.sleep(0.05)


def _holds(path: Path, needle: bytes) -> bool:
    return path.exists() and needle in path.read_bytes()
