"""Container stdio in memory: output the fake runtime emits lands in real CRI log files."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import BinaryIO

from domain.errors import InvalidArgument, NotFound
from domain.logformat import MAX_RECORD, LineSplitter, Stream, format_record
from ports.clock import Clock
from ports.runtime import Stdio
from ports.streams import Streams


@dataclass
class _Pipe:
    log_path: str
    tty: bool
    file: BinaryIO | None = None
    splitters: dict[Stream, LineSplitter] = field(default_factory=dict)
    # attached clients: output goes to each queue too (None: the output ended)
    taps: list[asyncio.Queue[tuple[Stream, bytes] | None]] = field(default_factory=list)
    stdin: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)
    stdin_open: bool = True  # hexcri's writer of the container's stdin
    ended: bool = False


class MemoryIO:
    """Implements ContainerIO; `emit` is how the fake runtime's processes write output."""

    def __init__(self, clock: Clock, max_line_size: int = MAX_RECORD) -> None:
        self._clock = clock
        self._max_line = max_line_size
        self._pipes: dict[str, _Pipe] = {}

    async def open(self, container_id: str, log_path: str, tty: bool, stdin: bool) -> Stdio:
        pipe = self._pipes.get(container_id)
        if pipe is None:
            pipe = _Pipe(log_path=log_path, tty=tty)
            try:
                self._open_file(pipe)
            except (OSError, ValueError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                raise InvalidArgument(
                    f"log_path: cannot create log file {log_path[:100]!r}: {reason}"
                ) from exc
            self._pipes[container_id] = pipe
        base = f"memory://{container_id}"
        return Stdio(
            stdin=f"{base}/stdin" if stdin else "",
            stdout=f"{base}/stdout",
            stderr="" if tty else f"{base}/stderr",
            terminal=tty,
        )

    @staticmethod
    def _open_file(pipe: _Pipe) -> None:
        if pipe.log_path:
            os.makedirs(os.path.dirname(pipe.log_path) or ".", exist_ok=True)
            pipe.file = open(pipe.log_path, "ab", buffering=0)  # noqa: SIM115 - kept open

    def emit(self, container_id: str, stream: Stream, data: bytes) -> None:
        pipe = self._pipes.get(container_id)
        if pipe is None:
            return
        if pipe.tty:
            stream = Stream.STDOUT
        for tap in pipe.taps:
            tap.put_nowait((stream, data))
        splitter = pipe.splitters.setdefault(stream, LineSplitter(self._max_line))
        self._write(pipe, stream, splitter.feed(data))

    def _write(self, pipe: _Pipe, stream: Stream, records: list[tuple[bytes, bool]]) -> None:
        if pipe.file is None or not records:
            return
        now = self._clock.now_ns()
        pipe.file.write(b"".join(format_record(now, stream, p, c) for c, p in records))

    async def reopen_log(self, container_id: str) -> None:
        pipe = self._pipes.get(container_id)
        if pipe is None:
            raise NotFound(f"container {container_id} has no open log")
        if pipe.file is not None:
            pipe.file.close()
        self._open_file(pipe)

    def end_output(self, container_id: str) -> None:
        """The container's process ended: attached clients see the end of its output."""
        pipe = self._pipes.get(container_id)
        if pipe is None:
            return
        pipe.ended = True
        for tap in pipe.taps:
            tap.put_nowait(None)

    async def read_stdin(self, container_id: str) -> AsyncIterator[bytes]:
        """What attached clients write to the container's stdin (for the fake runtime)."""
        pipe = self._pipes.get(container_id)
        if pipe is None:
            return
        while chunk := await pipe.stdin.get():
            yield chunk

    async def close_stdin(self, container_id: str) -> None:
        """The container's stdin reaches EOF (after what was written)."""
        pipe = self._pipes.get(container_id)
        if pipe is not None and pipe.stdin_open:
            pipe.stdin_open = False
            pipe.stdin.put_nowait(b"")

    async def attach(self, container_id: str, streams: Streams) -> None:
        pipe = self._pipes.get(container_id)
        if pipe is None:
            raise NotFound(f"container {container_id} has no open stdio")
        if pipe.ended:
            return
        tap: asyncio.Queue[tuple[Stream, bytes] | None] = asyncio.Queue()
        pipe.taps.append(tap)
        feeding = asyncio.ensure_future(self._feed(pipe, streams))
        if streams.stdin is not None:
            feeding.add_done_callback(lambda _: self._detach(pipe, tap))
        try:
            while (item := await tap.get()) is not None:
                stream, data = item
                write = streams.stdout if stream == Stream.STDOUT else streams.stderr
                if write is not None:
                    await write(data)
        finally:
            pipe.taps.remove(tap)
            feeding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeding

    @staticmethod
    def _detach(pipe: _Pipe, tap: asyncio.Queue[tuple[Stream, bytes] | None]) -> None:
        """The client's stdin ended: it is detached, unless it closed the container's stdin."""
        if pipe.stdin_open:
            tap.put_nowait(None)

    @staticmethod
    async def _feed(pipe: _Pipe, streams: Streams) -> None:
        if streams.stdin is not None:
            async for chunk in streams.stdin:
                if pipe.stdin_open:
                    pipe.stdin.put_nowait(chunk)

    async def close(self, container_id: str) -> None:
        pipe = self._pipes.pop(container_id, None)
        if pipe is None:
            return
        for tap in pipe.taps:
            tap.put_nowait(None)
        for stream, splitter in pipe.splitters.items():
            self._write(pipe, stream, splitter.flush())
        if pipe.file is not None:
            pipe.file.close()

    def is_open(self, container_id: str) -> bool:
        return container_id in self._pipes
