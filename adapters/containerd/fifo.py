"""FIFOs for stdio: making them, naming them for the shim, and reading and writing them on the
event loop without blocking it (non-blocking fds + `add_reader`/`add_writer`).

A FIFO opened for reading before any writer came is not reported readable by Linux until a
writer has come and gone, so a reader may be opened ahead of the shim that writes to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Sequence

from domain.errors import Internal
from domain.model import Frozen
from ports.io import Stdio, StreamEnd

CHUNK = 64 * 1024


class FifoEnd(StreamEnd):
    """The shim's end of one stdio stream: the FIFO at `path`."""

    path: str


class FifoPaths(Frozen):
    """A task's stdio as containerd takes it (and as a pending task's extension keeps it):
    FIFO paths, "" for none."""

    stdin: str = ""
    stdout: str = ""
    stderr: str = ""
    terminal: bool = False

    @classmethod
    def of(cls, stdio: Stdio) -> FifoPaths:
        """The paths of `stdio`, which `FifoStreams` made (or empty: no stdio)."""
        return cls(
            stdin=_path(stdio.stdin),
            stdout=_path(stdio.stdout),
            stderr=_path(stdio.stderr),
            terminal=stdio.terminal,
        )


def _path(end: StreamEnd | None) -> str:
    if end is None:
        return ""
    if not isinstance(end, FifoEnd):
        raise Internal(f"stdio of another backend: {type(end).__name__}")
    return end.path


def make_fifos(directory: str, names: Sequence[str]) -> None:
    """FIFOs `names` in `directory` (made with it if needed); existing ones are kept."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    for name in names:
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            os.mkfifo(path, 0o600)


class Fifo:
    """Calls `on_data` with every chunk read from the FIFO at `path`, until EOF or `close`
    (then `on_eof`). Opened at once; reading starts with the callbacks (here or `start`).
    Implements `ports.io.OutputStream`."""

    def __init__(
        self,
        path: str,
        on_data: Callable[[bytes], None] | None = None,
        on_eof: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        self._on_data: Callable[[bytes], None] = _ignore
        self._on_eof = on_eof
        self._loop = asyncio.get_running_loop()
        self._fd: int | None = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self.eof = asyncio.Event()
        if on_data is not None:
            self.start(on_data, on_eof)

    def start(self, on_data: Callable[[bytes], None], on_end: Callable[[], None] | None) -> None:
        self._on_data, self._on_eof = on_data, on_end
        if self._fd is not None:
            self._loop.add_reader(self._fd, self._readable)

    def _readable(self) -> None:
        self._read(once=True)

    def _read(self, once: bool) -> None:
        """Read what is there; at EOF stop watching the fd."""
        while self._fd is not None:
            try:
                data = os.read(self._fd, CHUNK)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._stop()
                return
            self._on_data(data)
            if once:
                return

    def _stop(self) -> None:
        if self._fd is None:
            return
        self._loop.remove_reader(self._fd)  # (no error when it was not started)
        os.close(self._fd)
        self._fd = None
        self.eof.set()
        if self._on_eof is not None:
            self._on_eof()

    async def drain(self, timeout: float) -> None:
        """Read to EOF, waiting at most `timeout` for writers that are still attached."""
        self._read(once=False)
        if self._fd is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.eof.wait(), timeout)
        self._read(once=False)

    def close(self) -> None:
        self._stop()


class FifoReader:
    """Collects a FIFO's first `limit` bytes for exec output; what comes after is read and
    dropped (the writer never blocks, and memory stays flat however much it writes)."""

    def __init__(self, path: str, limit: int) -> None:
        self.path = path
        self._limit = limit
        self._kept = bytearray()
        self._fifo = Fifo(path, self._collect)

    def _collect(self, data: bytes) -> None:
        room = self._limit - len(self._kept)
        if room > 0:
            self._kept += data[:room]

    async def drain(self, timeout: float) -> bytes:
        await self._fifo.drain(timeout)
        kept, self._kept = bytes(self._kept), bytearray()
        return kept

    def close(self) -> None:
        self._fifo.close()


class FifoWriter:
    """Writes to a FIFO without blocking the event loop (`ports.io.InputStream`).

    Opened read-write, so that opening neither waits for a reader nor fails without one; the
    reader sees EOF once this (the only writer) is closed.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._loop = asyncio.get_running_loop()
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._fd is None:
                raise BrokenPipeError(f"{self.path} is closed")
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                await self._writable()

    async def _writable(self) -> None:
        fd = self._fd
        if fd is None:
            return
        ready: asyncio.Future[None] = self._loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        self._loop.add_writer(fd, wake)
        try:
            await ready
        finally:
            self._loop.remove_writer(fd)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _ignore(data: bytes) -> None:
    return None
