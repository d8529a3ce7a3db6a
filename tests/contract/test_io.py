"""The ContainerIO contract: `domain.stdio` over the memory fake's pipes and log files, and
over the containerd adapter's FIFOs and the host's log files.

A per-backend `Driver` plays the container's side of the stdio `open` returned: it writes to
stdout or stderr (into the fake, or into the FIFOs as a shim would) and ends the output (the
process exits). The FIFO pump needs no containerd: only its FIFOs and the log file.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from adapters.host.logs import HostLogFiles
from adapters.memory.clock import FakeClock
from adapters.memory.io import MemoryIO
from adapters.memory.logs import MemoryLogFiles
from domain.errors import InvalidArgument, NotFound
from domain.ids import new_id
from domain.logformat import MAX_RECORD, Stream, parse_record
from domain.stdio import ContainerStdio
from ports.io import ContainerIO, Stdio, StreamEnd
from ports.streams import Streams

WAIT = 30.0
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z")
Record = tuple[Stream, bool, bytes]


class Driver:
    io: ContainerIO

    async def write(self, container_id: str, stdio: Stdio, stream: Stream, data: bytes) -> None:
        """Write `data` to the container's `stream` as its process would."""
        raise NotImplementedError

    async def start(self, container_id: str, stdio: Stdio) -> None:
        """The task starts: the shim opens the container's stdio."""

    async def read_stdin(self, container_id: str, stdio: Stdio) -> bytes:
        """What reaches the container's stdin, up to its EOF."""
        raise NotImplementedError

    async def end(self, container_id: str) -> None:
        """The process exits: its output ends."""

    async def close(self) -> None:
        """Release what the driver holds."""


class MemoryDriver(Driver):
    def __init__(self) -> None:
        self.fake = MemoryIO()
        self.io = ContainerStdio(self.fake, MemoryLogFiles(), FakeClock())

    async def write(self, container_id: str, stdio: Stdio, stream: Stream, data: bytes) -> None:
        self.fake.emit(container_id, stream, data)

    async def read_stdin(self, container_id: str, stdio: Stdio) -> bytes:
        return b"".join([chunk async for chunk in self.fake.read_stdin(container_id)])

    async def end(self, container_id: str) -> None:
        self.fake.end_output(container_id)


class FifoDriver(Driver):
    """Holds the write ends of the FIFOs, as a shim does while the process runs."""

    def __init__(self, state_dir: Path) -> None:
        from adapters.containerd.io import FifoStreams

        self.fifo_io = ContainerStdio(FifoStreams(str(state_dir)), HostLogFiles(), WallClock())
        self.io = self.fifo_io
        self.fds: dict[str, dict[str, int]] = {}
        self.stdin_fds: dict[str, int] = {}

    async def write(self, container_id: str, stdio: Stdio, stream: Stream, data: bytes) -> None:
        path = _path(stdio.stdout if stream == Stream.STDOUT else stdio.stderr)
        fds = self.fds.setdefault(container_id, {})
        if path not in fds:
            fds[path] = await asyncio.to_thread(os.open, path, os.O_WRONLY | os.O_CLOEXEC)
        await asyncio.to_thread(_write_all, fds[path], data)

    async def start(self, container_id: str, stdio: Stdio) -> None:
        fds = self.fds.setdefault(container_id, {})
        for path in (_path(stdio.stdout), _path(stdio.stderr)):
            if path and path not in fds:  # hexcri holds the read ends: no wait
                fds[path] = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                os.set_blocking(fds[path], True)
        if stdio.stdin:  # hexcri holds the write end: no wait
            self.stdin_fds[container_id] = os.open(
                _path(stdio.stdin), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
            )
            os.set_blocking(self.stdin_fds[container_id], True)

    async def read_stdin(self, container_id: str, stdio: Stdio) -> bytes:
        fd = self.stdin_fds.pop(container_id)
        try:
            return await asyncio.to_thread(_read_to_eof, fd)
        finally:
            os.close(fd)

    async def end(self, container_id: str) -> None:
        for fd in self.fds.pop(container_id, {}).values():
            os.close(fd)

    async def close(self) -> None:
        for container_id in list(self.fds):
            await self.end(container_id)
        for fd in self.stdin_fds.values():
            os.close(fd)
        self.stdin_fds.clear()
        await self.fifo_io.close_all()


def _path(end: StreamEnd | None) -> str:
    """The FIFO of a stdio end the containerd adapter made ("" for none)."""
    from adapters.containerd.fifo import FifoPaths

    return FifoPaths.of(Stdio(stdout=end)).stdout


class WallClock:
    def now_ns(self) -> int:
        return time.time_ns()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _read_to_eof(fd: int) -> bytes:
    data = b""
    while chunk := os.read(fd, 65536):
        data += chunk
    return data


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


@pytest.fixture(params=["memory", "fifo"])
async def driver(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Driver]:
    made = MemoryDriver() if request.param == "memory" else FifoDriver(tmp_path / "state")
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
def io(driver: Driver) -> ContainerIO:
    return driver.io


def records(log: Path) -> list[Record]:
    out = []
    for line in log.read_bytes().splitlines():
        ts, stream, partial, content = parse_record(line)
        assert TIMESTAMP.fullmatch(ts), line
        out.append((stream, partial, content))
    return out


async def wait_for(log: Path, content: bytes) -> None:
    """Until a record of `content` is in `log` (the pump writes in the background)."""
    deadline = time.monotonic() + WAIT
    while not (log.exists() and content in [r[2] for r in records(log)]):
        assert time.monotonic() < deadline, f"{content!r} never reached {log}"
        await asyncio.sleep(0.02)


async def test_open_gives_stdio_for_the_streams_asked(io: ContainerIO, tmp_path: Path) -> None:
    plain = await io.open(new_id(), str(tmp_path / "plain.log"), False, False)
    assert plain.stdout and plain.stderr and not plain.stdin and not plain.terminal
    assert plain.stdout != plain.stderr
    cid = new_id()
    tty = await io.open(cid, str(tmp_path / "tty.log"), True, True)
    assert tty.stdout and tty.stdin and not tty.stderr and tty.terminal
    assert await io.open(cid, str(tmp_path / "tty.log"), True, True) == tty  # re-attach


async def test_the_log_file_exists_once_stdio_is_open(io: ContainerIO, tmp_path: Path) -> None:
    """kubelet (and the upstream specs) open the log as soon as StartContainer returns."""
    log = tmp_path / "pod" / "app" / "0.log"
    await io.open(new_id(), str(log), False, False)
    assert log.exists() and log.read_bytes() == b""


async def test_a_log_file_that_cannot_be_made_is_invalid_argument(
    io: ContainerIO, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("")
    cid = new_id()
    with pytest.raises(InvalidArgument, match="log_path"):
        await io.open(cid, str(tmp_path / "file" / "0.log"), False, False)
    with pytest.raises(NotFound):
        await io.reopen_log(cid)  # nothing was opened


async def test_lines_are_logged_in_the_cri_format(
    driver: Driver, io: ContainerIO, tmp_path: Path
) -> None:
    cid, log = new_id(), tmp_path / "app.log"
    stdio = await io.open(cid, str(log), False, False)
    await driver.write(cid, stdio, Stream.STDOUT, b"hello\n\nwor")
    await driver.write(cid, stdio, Stream.STDOUT, b"ld\n")
    await driver.write(cid, stdio, Stream.STDERR, b"oops\n")
    await driver.end(cid)
    await io.close(cid)
    got = records(log)
    assert [r for r in got if r[0] == Stream.STDOUT] == [
        (Stream.STDOUT, False, b"hello"),
        (Stream.STDOUT, False, b""),
        (Stream.STDOUT, False, b"world"),
    ]
    assert [r for r in got if r[0] == Stream.STDERR] == [(Stream.STDERR, False, b"oops")]


async def test_long_lines_are_split_into_partial_records(
    driver: Driver, io: ContainerIO, tmp_path: Path
) -> None:
    cid, log = new_id(), tmp_path / "long.log"
    stdio = await io.open(cid, str(log), False, False)
    await driver.write(cid, stdio, Stream.STDOUT, b"y" * 40000 + b"\n" + b"z" * MAX_RECORD)
    await driver.end(cid)
    await io.close(cid)
    assert [(s, p, len(c)) for s, p, c in records(log)] == [
        (Stream.STDOUT, True, MAX_RECORD),
        (Stream.STDOUT, True, MAX_RECORD),
        (Stream.STDOUT, False, 40000 - 2 * MAX_RECORD),
        (Stream.STDOUT, True, MAX_RECORD),  # the output ended without a newline
    ]


async def test_close_flushes_output_without_newline_as_partial(
    driver: Driver, io: ContainerIO, tmp_path: Path
) -> None:
    cid, log = new_id(), tmp_path / "tail.log"
    stdio = await io.open(cid, str(log), False, False)
    await driver.write(cid, stdio, Stream.STDOUT, b"line\nno newline")
    await driver.write(cid, stdio, Stream.STDERR, b"err tail")
    await driver.end(cid)
    await io.close(cid)
    assert sorted(records(log)) == [
        (Stream.STDERR, True, b"err tail"),
        (Stream.STDOUT, False, b"line"),
        (Stream.STDOUT, True, b"no newline"),
    ]


async def test_tty_output_is_logged_as_stdout(
    driver: Driver, io: ContainerIO, tmp_path: Path
) -> None:
    cid, log = new_id(), tmp_path / "tty.log"
    stdio = await io.open(cid, str(log), True, False)
    await driver.write(cid, stdio, Stream.STDOUT, b"on a tty\n")
    await driver.end(cid)
    await io.close(cid)
    assert records(log) == [(Stream.STDOUT, False, b"on a tty")]


async def test_reopen_log_after_rotation(driver: Driver, io: ContainerIO, tmp_path: Path) -> None:
    cid, log = new_id(), tmp_path / "rotate.log"
    stdio = await io.open(cid, str(log), False, False)
    await driver.write(cid, stdio, Stream.STDOUT, b"first\n")
    await wait_for(log, b"first")
    rotated = tmp_path / "rotate.log.1"
    log.rename(rotated)
    await io.reopen_log(cid)
    assert log.exists()  # at once: kubelet looks for the new file
    await driver.write(cid, stdio, Stream.STDOUT, b"second\n")
    await driver.end(cid)
    await io.close(cid)
    assert records(rotated) == [(Stream.STDOUT, False, b"first")]
    assert records(log) == [(Stream.STDOUT, False, b"second")]


async def test_reopen_log_of_an_unknown_container_is_not_found(io: ContainerIO) -> None:
    with pytest.raises(NotFound):
        await io.reopen_log(new_id())


async def test_close_is_idempotent(driver: Driver, io: ContainerIO, tmp_path: Path) -> None:
    cid, log = new_id(), tmp_path / "once.log"
    stdio = await io.open(cid, str(log), False, False)
    await driver.write(cid, stdio, Stream.STDOUT, b"once\n")
    await driver.end(cid)
    await io.close(cid)
    await io.close(cid)
    await io.close(new_id())  # never opened
    with pytest.raises(NotFound):  # closed: nothing left to reopen
        await io.reopen_log(cid)
    assert records(log) == [(Stream.STDOUT, False, b"once")]


async def test_no_log_path_discards_the_output(
    driver: Driver, io: ContainerIO, tmp_path: Path
) -> None:
    cid = new_id()
    stdio = await io.open(cid, "", False, False)
    await driver.write(cid, stdio, Stream.STDOUT, b"nowhere\n")
    await driver.end(cid)
    await io.reopen_log(cid)  # nothing to reopen, and no error
    await io.close(cid)
    assert list(tmp_path.rglob("*.log")) == []


# --- attach -----------------------------------------------------------------------------------


async def _client_stdin(
    *chunks: bytes, then: Callable[[], Awaitable[None]] | None = None
) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
    if then is not None:
        await then()


async def _started_with_stdin(driver: Driver, io: ContainerIO, tmp_path: Path) -> tuple[str, Stdio]:
    """A container with stdin whose task has started."""
    cid = new_id()
    stdio = await io.open(cid, str(tmp_path / "c.log"), False, True)
    await driver.start(cid, stdio)
    return cid, stdio


class _Output:
    """An attached client's stdout."""

    def __init__(self) -> None:
        self.got: list[bytes] = []

    async def __call__(self, data: bytes) -> None:
        self.got.append(data)


async def test_attach_detaches_when_the_clients_stdin_ends(
    driver: Driver, io: ContainerIO, tmp_path: Path
) -> None:
    """The container's stdin stays open for the next client."""
    cid, stdio = await _started_with_stdin(driver, io, tmp_path)
    out = _Output()
    await driver.write(cid, stdio, Stream.STDOUT, b"before\n")
    await asyncio.wait_for(io.attach(cid, Streams(stdin=_client_stdin(b"one "), stdout=out)), WAIT)
    await asyncio.wait_for(io.attach(cid, Streams(stdin=_client_stdin(b"two"), stdout=out)), WAIT)
    await io.close_stdin(cid)
    assert await asyncio.wait_for(driver.read_stdin(cid, stdio), WAIT) == b"one two"
    await io.close(cid)


async def test_closing_stdin_gives_eof_and_the_attach_follows_the_output(
    driver: Driver, io: ContainerIO, tmp_path: Path
) -> None:
    cid, stdio = await _started_with_stdin(driver, io, tmp_path)
    out = _Output()
    stdin = _client_stdin(b"last words", then=lambda: io.close_stdin(cid))
    attached = asyncio.ensure_future(io.attach(cid, Streams(stdin=stdin, stdout=out)))
    assert await asyncio.wait_for(driver.read_stdin(cid, stdio), WAIT) == b"last words"
    assert not attached.done()  # the client stays attached to the output
    await driver.write(cid, stdio, Stream.STDOUT, b"bye\n")
    await driver.end(cid)
    await asyncio.wait_for(attached, WAIT)
    assert b"".join(out.got) == b"bye\n"
    await io.close(cid)
