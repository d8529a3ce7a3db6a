"""The stdio pump (`domain.stdio`) on the memory pipes, with log files kept in memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.memory.clock import FakeClock
from adapters.memory.io import MemoryIO
from domain.errors import InvalidArgument, NotFound
from domain.logformat import Stream, parse_record
from domain.stdio import ContainerStdio
from ports.streams import Streams

MAX = 8  # a small max_container_log_line_size
Record = tuple[Stream, bool, bytes]


class Log:
    """A log file's generations: each `reopen` starts a new one (the old one was rotated)."""

    def __init__(self) -> None:
        self.generations: list[bytearray] = [bytearray()]
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.generations[-1] += data

    async def reopen(self) -> None:
        self.generations.append(bytearray())

    async def close(self) -> None:
        self.closed = True

    def records(self, generation: int = -1) -> list[Record]:
        lines = bytes(self.generations[generation]).splitlines()
        return [parse_record(line)[1:] for line in lines]


class Logs:
    def __init__(self) -> None:
        self.files: dict[str, Log] = {}

    async def open(self, path: str) -> Log:
        if path.startswith("/forbidden"):
            raise InvalidArgument("Permission denied")
        return self.files.setdefault(path, Log())


@pytest.fixture
def pipes() -> MemoryIO:
    return MemoryIO()


@pytest.fixture
def logs() -> Logs:
    return Logs()


@pytest.fixture
def io(pipes: MemoryIO, logs: Logs) -> ContainerStdio:
    return ContainerStdio(pipes, logs, FakeClock(), max_line_size=MAX)


async def logged(io: ContainerStdio, pipes: MemoryIO, *chunks: bytes, tty: bool = False) -> str:
    """A container that wrote `chunks` to stdout and exited."""
    await io.open("c", "/logs/c.log", tty, False)
    for chunk in chunks:
        pipes.emit("c", Stream.STDOUT, chunk)
    pipes.end_output("c")
    await io.close("c")
    return "/logs/c.log"


async def test_lines_become_full_records(io: ContainerStdio, pipes: MemoryIO, logs: Logs) -> None:
    path = await logged(io, pipes, b"one\ntw", b"o\n\n")
    assert logs.files[path].records() == [
        (Stream.STDOUT, False, b"one"),
        (Stream.STDOUT, False, b"two"),
        (Stream.STDOUT, False, b""),
    ]
    assert logs.files[path].closed


async def test_a_line_of_exactly_the_maximum_is_one_full_record(
    io: ContainerStdio, pipes: MemoryIO, logs: Logs
) -> None:
    path = await logged(io, pipes, b"x" * MAX, b"\n")
    assert logs.files[path].records() == [(Stream.STDOUT, False, b"x" * MAX)]


async def test_longer_lines_are_partial_records_ended_by_a_full_one(
    io: ContainerStdio, pipes: MemoryIO, logs: Logs
) -> None:
    path = await logged(io, pipes, b"y" * (2 * MAX + 3) + b"\n")
    assert logs.files[path].records() == [
        (Stream.STDOUT, True, b"y" * MAX),
        (Stream.STDOUT, True, b"y" * MAX),
        (Stream.STDOUT, False, b"yyy"),
    ]


async def test_output_ending_without_newline_is_a_partial_record(
    io: ContainerStdio, pipes: MemoryIO, logs: Logs
) -> None:
    await io.open("c", "/logs/c.log", False, False)
    pipes.emit("c", Stream.STDOUT, b"done\nno nl")
    pipes.emit("c", Stream.STDERR, b"err")
    pipes.end_output("c")  # at EOF, before the close
    assert sorted(logs.files["/logs/c.log"].records()) == [
        (Stream.STDERR, True, b"err"),
        (Stream.STDOUT, False, b"done"),
        (Stream.STDOUT, True, b"no nl"),
    ]


async def test_a_terminals_output_is_stdout(
    io: ContainerStdio, pipes: MemoryIO, logs: Logs
) -> None:
    await io.open("c", "/logs/c.log", True, False)
    pipes.emit("c", Stream.STDERR, b"on a tty\n")
    pipes.end_output("c")
    assert logs.files["/logs/c.log"].records() == [(Stream.STDOUT, False, b"on a tty")]


async def test_reopen_starts_a_new_file_for_what_follows(
    io: ContainerStdio, pipes: MemoryIO, logs: Logs
) -> None:
    await io.open("c", "/logs/c.log", False, False)
    pipes.emit("c", Stream.STDOUT, b"first\nhal")
    await io.reopen_log("c")
    pipes.emit("c", Stream.STDOUT, b"f\n")
    pipes.end_output("c")
    log = logs.files["/logs/c.log"]
    assert log.records(0) == [(Stream.STDOUT, False, b"first")]
    assert log.records(1) == [(Stream.STDOUT, False, b"half")]


async def test_open_twice_gives_the_same_stdio_and_a_log_that_cannot_be_made_nothing(
    io: ContainerStdio, pipes: MemoryIO
) -> None:
    stdio = await io.open("c", "/logs/c.log", False, True)
    assert await io.open("c", "/logs/c.log", False, True) is stdio
    with pytest.raises(InvalidArgument, match=r"log_path: cannot create .*: Permission denied"):
        await io.open("d", "/forbidden/d.log", False, False)
    assert not pipes.is_open("d")
    with pytest.raises(NotFound):
        await io.reopen_log("d")
    await io.close("c")
    assert not pipes.is_open("c")


async def test_without_a_log_path_output_only_reaches_attached_clients(
    io: ContainerStdio, pipes: MemoryIO, logs: Logs
) -> None:
    await io.open("c", "", False, False)
    out = Output()
    attached = asyncio.ensure_future(io.attach("c", Streams(stdout=out)))
    await asyncio.sleep(0)
    pipes.emit("c", Stream.STDOUT, b"hi\n")
    await io.reopen_log("c")
    pipes.end_output("c")
    await asyncio.wait_for(attached, 1)
    assert out.got == [b"hi\n"] and logs.files == {}


# --- attach -----------------------------------------------------------------------------------


class Output:
    def __init__(self) -> None:
        self.got: list[bytes] = []

    async def __call__(self, data: bytes) -> None:
        self.got.append(data)


async def stdin_of(*chunks: bytes, hold: asyncio.Event | None = None) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
    if hold is not None:
        await hold.wait()


async def test_every_attached_client_gets_the_output_and_the_log_too(
    io: ContainerStdio, pipes: MemoryIO, logs: Logs
) -> None:
    await io.open("c", "/logs/c.log", False, False)
    outs, errs = [Output(), Output()], [Output(), Output()]
    clients = [
        asyncio.ensure_future(io.attach("c", Streams(stdout=o, stderr=e)))
        for o, e in zip(outs, errs, strict=True)
    ]
    await asyncio.sleep(0)
    pipes.emit("c", Stream.STDOUT, b"out\n")
    pipes.emit("c", Stream.STDERR, b"err\n")
    pipes.end_output("c")
    await asyncio.wait_for(asyncio.gather(*clients), 1)
    assert [o.got for o in outs] == [[b"out\n"]] * 2
    assert [e.got for e in errs] == [[b"err\n"]] * 2
    assert len(logs.files["/logs/c.log"].records()) == 2
    await io.attach("c", Streams(stdout=Output()))  # ended: returns at once


async def test_the_clients_stdin_end_detaches_it_and_the_containers_stays_open(
    io: ContainerStdio, pipes: MemoryIO
) -> None:
    await io.open("c", "/logs/c.log", False, True)
    await asyncio.wait_for(io.attach("c", Streams(stdin=stdin_of(b"one "))), 1)
    await asyncio.wait_for(io.attach("c", Streams(stdin=stdin_of(b"two"))), 1)
    await io.close_stdin("c")
    await io.close_stdin("c")  # idempotent
    assert b"".join([c async for c in pipes.read_stdin("c")]) == b"one two"


async def test_after_close_stdin_the_client_follows_the_output_to_its_end(
    io: ContainerStdio, pipes: MemoryIO
) -> None:
    await io.open("c", "/logs/c.log", False, True)
    out = Output()

    async def stdin() -> AsyncIterator[bytes]:
        yield b"last"
        await io.close_stdin("c")

    attached = asyncio.ensure_future(io.attach("c", Streams(stdin=stdin(), stdout=out)))
    assert [c async for c in pipes.read_stdin("c")] == [b"last"]
    await asyncio.sleep(0)
    assert not attached.done()
    pipes.emit("c", Stream.STDOUT, b"bye\n")
    pipes.end_output("c")
    await asyncio.wait_for(attached, 1)
    assert out.got == [b"bye\n"]


async def test_close_ends_attached_clients(io: ContainerStdio, pipes: MemoryIO) -> None:
    await io.open("c", "/logs/c.log", False, True)
    hold = asyncio.Event()
    attached = asyncio.ensure_future(io.attach("c", Streams(stdin=stdin_of(hold=hold))))
    await asyncio.sleep(0)
    await io.close("c")
    await asyncio.wait_for(attached, 1)
    with pytest.raises(NotFound):
        await io.attach("c", Streams())


async def test_close_all_keeps_the_stdio_and_closes_the_logs(
    io: ContainerStdio, pipes: MemoryIO, logs: Logs
) -> None:
    await io.open("c", "/logs/c.log", False, False)
    pipes.emit("c", Stream.STDOUT, b"half")
    await io.close_all()
    assert pipes.is_open("c")
    assert logs.files["/logs/c.log"].records() == [(Stream.STDOUT, True, b"half")]
    assert logs.files["/logs/c.log"].closed
