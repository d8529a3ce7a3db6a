"""Container stdio, once for every backend: the CRI log writer and the attach fan-out.

Each container's output streams (`ports.io.StdioStreams`) are cut into CRI log records
(`domain.logformat`) appended to its log file (`ports.io.LogFiles`) and copied to every
attached client; attached clients' stdin goes to the container's.
"""

from __future__ import annotations

import asyncio
import contextlib

from domain.errors import InvalidArgument, NotFound
from domain.logformat import MAX_RECORD, LineSplitter, Stream, format_record
from ports.clock import Clock
from ports.io import LogFile, LogFiles, OutputStream, Stdio, StdioPipes, StdioStreams
from ports.streams import Streams

DRAIN_TIMEOUT = 2.0  # seconds a closing pump waits for the process's writers to end

Tap = asyncio.Queue[tuple[Stream, bytes] | None]  # an attached client's output; None: the end


class _Pump:
    """One container's stdio: its output into its log and taps, its stdin's writer."""

    def __init__(self, pipes: StdioPipes, log: LogFile | None, clock: Clock, max_line: int) -> None:
        self.stdio = pipes.stdio
        self.stdin = pipes.stdin
        self.taps: list[Tap] = []
        self._log = log
        self._clock = clock
        self._outputs: list[OutputStream] = []
        self._open = 0
        self._pump(pipes.stdout, Stream.STDOUT, max_line)  # a terminal's output logs as stdout
        if pipes.stderr is not None:
            self._pump(pipes.stderr, Stream.STDERR, max_line)

    @property
    def ended(self) -> bool:
        return self._open == 0

    def _pump(self, output: OutputStream, stream: Stream, max_line: int) -> None:
        splitter = LineSplitter(max_line)

        def on_data(data: bytes) -> None:
            for tap in self.taps:
                tap.put_nowait((stream, data))
            self._log_records(stream, splitter.feed(data))

        def on_end() -> None:
            self._log_records(stream, splitter.flush())
            self._open -= 1
            if self.ended:
                for tap in self.taps:
                    tap.put_nowait(None)

        self._outputs.append(output)
        self._open += 1
        output.start(on_data, on_end)

    def _log_records(self, stream: Stream, records: list[tuple[bytes, bool]]) -> None:
        if not records or self._log is None:
            return
        now = self._clock.now_ns()
        self._log.write(b"".join(format_record(now, stream, p, c) for c, p in records))

    async def reopen(self) -> None:
        if self._log is not None:
            await self._log.reopen()

    def close_stdin(self) -> None:
        if self.stdin is not None:
            self.stdin.close()
            self.stdin = None

    async def close(self, drain: float) -> None:
        """Stop: read what the writers left (waiting at most `drain`), log it, end the taps."""
        if drain > 0:
            await asyncio.gather(*(output.drain(drain) for output in self._outputs))
        for output in self._outputs:
            output.close()
        self.close_stdin()
        for tap in self.taps:
            tap.put_nowait(None)
        if self._log is not None:
            await self._log.close()


class ContainerStdio:
    """Implements `ports.io.ContainerIO` over any backend's byte streams and log files."""

    def __init__(
        self,
        streams: StdioStreams,
        logs: LogFiles,
        clock: Clock,
        max_line_size: int = MAX_RECORD,
        drain_timeout: float = DRAIN_TIMEOUT,
    ) -> None:
        self._streams = streams
        self._logs = logs
        self._clock = clock
        self._max_line = max_line_size
        self._drain = drain_timeout
        self._pumps: dict[str, _Pump] = {}

    async def open(self, container_id: str, log_path: str, tty: bool, stdin: bool) -> Stdio:
        """The log file is created now (kubelet opens it as soon as the container starts);
        one that cannot be made is the client's InvalidArgument, as in containerd's CRI."""
        pump = self._pumps.get(container_id)
        if pump is not None:
            return pump.stdio
        log = await self._open_log(log_path) if log_path else None
        try:
            pipes = await self._streams.open(container_id, tty, stdin)
        except BaseException:
            if log is not None:
                await log.close()
            raise
        self._pumps[container_id] = _Pump(pipes, log, self._clock, self._max_line)
        return pipes.stdio

    async def _open_log(self, path: str) -> LogFile:
        try:
            return await self._logs.open(path)
        except InvalidArgument as exc:
            raise InvalidArgument(
                f"log_path: cannot create log file {path[:100]!r}: {exc}"
            ) from exc

    def _pump(self, container_id: str, what: str) -> _Pump:
        pump = self._pumps.get(container_id)
        if pump is None:
            raise NotFound(f"container {container_id} has no open {what}")
        return pump

    async def reopen_log(self, container_id: str) -> None:
        await self._pump(container_id, "log").reopen()

    async def attach(self, container_id: str, streams: Streams) -> None:
        pump = self._pump(container_id, "stdio")
        if pump.ended:
            return
        tap: Tap = asyncio.Queue()
        pump.taps.append(tap)
        feeding = asyncio.ensure_future(_feed(pump, streams))
        if streams.stdin is not None:
            feeding.add_done_callback(lambda _: _detach(pump, tap))
        try:
            while (item := await tap.get()) is not None:
                stream, data = item
                write = streams.stdout if stream == Stream.STDOUT else streams.stderr
                if write is not None:
                    await write(data)
        finally:
            pump.taps.remove(tap)
            feeding.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await feeding

    async def close_stdin(self, container_id: str) -> None:
        pump = self._pumps.get(container_id)
        if pump is not None:
            pump.close_stdin()

    async def close(self, container_id: str) -> None:
        pump = self._pumps.pop(container_id, None)
        if pump is not None:
            with contextlib.suppress(Exception):
                await pump.close(self._drain)
        await self._streams.remove(container_id)

    async def close_all(self) -> None:
        """Stop every pump at once, keeping the stdio (a shutdown before a restart: the
        runtime holds the other ends, and the next `open` reads on)."""
        pumps, self._pumps = self._pumps, {}
        await asyncio.gather(*(p.close(0) for p in pumps.values()), return_exceptions=True)


async def _feed(pump: _Pump, streams: Streams) -> None:
    """The client's stdin into the container's (a container without stdin ignores it)."""
    if streams.stdin is None:
        return
    async for chunk in streams.stdin:
        if pump.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                await pump.stdin.write(chunk)


def _detach(pump: _Pump, tap: Tap) -> None:
    """The client's stdin ended: it is detached, unless it closed the container's stdin."""
    if pump.stdin is not None:
        tap.put_nowait(None)
