"""Container stdio as in-memory pipes: the fake runtime's processes write their output into
them (`emit`) and read their stdin from them (`read_stdin`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from domain.logformat import Stream
from ports.io import Stdio, StdioPipes, StreamEnd


class PipeEnd(StreamEnd):
    """The process's end of an in-memory pipe: its container and stream."""

    container_id: str
    stream: str


class _Output:
    """Implements `ports.io.OutputStream`: what the process writes goes straight to the
    reader. The process's end is closed when it exits (`end`), so nothing is left to drain."""

    def __init__(self) -> None:
        self._on_data: Callable[[bytes], None] | None = None
        self._on_end: Callable[[], None] | None = None
        self._early: list[bytes] = []  # written before the reader started
        self.ended = False

    def start(self, on_data: Callable[[bytes], None], on_end: Callable[[], None]) -> None:
        self._on_data, self._on_end = on_data, on_end
        early, self._early = self._early, []
        for chunk in early:
            on_data(chunk)
        if self.ended:
            on_end()

    def feed(self, data: bytes) -> None:
        if self.ended:
            return
        if self._on_data is None:
            self._early.append(data)
        else:
            self._on_data(data)

    def end(self) -> None:
        if not self.ended:
            self.ended = True
            if self._on_end is not None:
                self._on_end()

    async def drain(self, timeout: float) -> None:
        return None

    def close(self) -> None:
        self.end()


class _Input:
    """Implements `ports.io.InputStream`: chunks queued for the process, b"" for EOF."""

    def __init__(self) -> None:
        self.chunks: asyncio.Queue[bytes] = asyncio.Queue()
        self.closed = False

    async def write(self, data: bytes) -> None:
        if self.closed:
            raise BrokenPipeError("stdin is closed")
        if data:
            self.chunks.put_nowait(data)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.chunks.put_nowait(b"")


@dataclass
class _Pipes:
    pipes: StdioPipes
    stdout: _Output
    stderr: _Output | None
    stdin: _Input | None


class MemoryIO:
    """Implements `ports.io.StdioStreams`; `emit`, `end_output` and `read_stdin` are the fake
    runtime's side of the pipes."""

    def __init__(self) -> None:
        self._pipes: dict[str, _Pipes] = {}

    async def open(self, container_id: str, tty: bool, stdin: bool) -> StdioPipes:
        made = self._pipes.get(container_id)
        if made is None:
            ends = {
                name: PipeEnd(container_id=container_id, stream=name)
                for name in ("stdin", "stdout", "stderr")
            }
            stdout, stderr = _Output(), None if tty else _Output()
            writer = _Input() if stdin else None
            stdio = Stdio(
                stdin=ends["stdin"] if stdin else None,
                stdout=ends["stdout"],
                stderr=None if tty else ends["stderr"],
                terminal=tty,
            )
            pipes = StdioPipes(stdio=stdio, stdout=stdout, stderr=stderr, stdin=writer)
            made = self._pipes[container_id] = _Pipes(pipes, stdout, stderr, writer)
        return made.pipes

    async def remove(self, container_id: str) -> None:
        self._pipes.pop(container_id, None)

    def emit(self, container_id: str, stream: Stream, data: bytes) -> None:
        """The container's process writes `data` to `stream` (a terminal has one stream)."""
        made = self._pipes.get(container_id)
        if made is None:
            return
        output = made.stderr if stream == Stream.STDERR and made.stderr else made.stdout
        output.feed(data)

    def end_output(self, container_id: str) -> None:
        """The container's process ended: its output ends."""
        made = self._pipes.get(container_id)
        if made is None:
            return
        for output in (made.stdout, made.stderr):
            if output is not None:
                output.end()

    async def read_stdin(self, container_id: str) -> AsyncIterator[bytes]:
        """What hexcri writes to the container's stdin, until it closes it."""
        made = self._pipes.get(container_id)
        if made is None or made.stdin is None:
            return
        while chunk := await made.stdin.chunks.get():
            yield chunk

    def is_open(self, container_id: str) -> bool:
        return container_id in self._pipes
