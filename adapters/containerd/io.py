"""Container stdio as FIFOs under the state dir, pumped into CRI log files."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil

from adapters.containerd.fifo import Fifo, FifoWriter, make_fifos
from domain.errors import InvalidArgument, NotFound
from domain.logformat import MAX_RECORD, LineSplitter, Stream, format_record
from ports.clock import Clock
from ports.runtime import Stdio
from ports.streams import Streams

Tap = asyncio.Queue[tuple[Stream, bytes] | None]

log = logging.getLogger(__name__)

DRAIN_TIMEOUT = 2.0


class _Pump:
    """One container's output: FIFO readers, a record splitter per stream, one log writer."""

    def __init__(self, clock: Clock, log_path: str, log_fd: int | None, max_line: int) -> None:
        self._clock = clock
        self.log_path = log_path
        self._max_line = max_line
        self.fifos: list[Fifo] = []
        self._splitters: dict[Stream, LineSplitter] = {}
        self._pending: list[bytes] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._fd = log_fd
        self._file_lock = asyncio.Lock()
        self._writer = asyncio.create_task(self._write_loop())
        # attached clients (`FifoContainerIO.attach`) and the writer of the container's stdin
        self.taps: list[Tap] = []
        self.stdin: FifoWriter | None = None
        self._open_fifos = 0

    @property
    def ended(self) -> bool:
        return self._open_fifos == 0

    def attach(self, path: str, stream: Stream) -> None:
        splitter = self._splitters.setdefault(stream, LineSplitter(self._max_line))

        def on_data(data: bytes) -> None:
            for tap in self.taps:
                tap.put_nowait((stream, data))
            self._emit(stream, splitter.feed(data))

        def on_eof() -> None:
            self._emit(stream, splitter.flush())
            self._open_fifos -= 1
            if self.ended:
                for tap in self.taps:
                    tap.put_nowait(None)

        self._open_fifos += 1

        self.fifos.append(Fifo(path, on_data, on_eof))

    def _emit(self, stream: Stream, records: list[tuple[bytes, bool]]) -> None:
        if not records or not self.log_path:
            return
        now = self._clock.now_ns()
        self._pending.append(
            b"".join(format_record(now, stream, partial, content) for content, partial in records)
        )
        self._wake.set()

    async def reopen(self) -> None:
        """Close the log file and open it again (at once: kubelet expects the new file)."""
        async with self._file_lock:
            await self._close_file()
            if self.log_path:
                self._fd = await asyncio.to_thread(_open_log, self.log_path)

    async def _write_loop(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                if self._pending:
                    data, self._pending = b"".join(self._pending), []
                    await self._write(data)
                if self._closing and not self._pending:
                    return
        finally:
            await self._close_file()

    async def _write(self, data: bytes) -> None:
        async with self._file_lock:
            try:
                if self._fd is None:
                    self._fd = await asyncio.to_thread(_open_log, self.log_path)
                await asyncio.to_thread(_write_all, self._fd, data)
            except OSError:
                log.exception("cannot write container log %s", self.log_path)

    async def _close_file(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            await asyncio.to_thread(os.close, fd)

    def stop_taps(self) -> None:
        if self.stdin is not None:
            self.stdin.close()
        for tap in self.taps:
            tap.put_nowait(None)

    async def close(self) -> None:
        """Read what the writers left, write it out, stop."""
        await asyncio.gather(*(f.drain(DRAIN_TIMEOUT) for f in self.fifos))
        for fifo in self.fifos:
            fifo.close()
        self.stop_taps()
        self._closing = True
        self._wake.set()
        await self._writer


def _open_log(path: str) -> int:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)


async def open_log_file(path: str) -> int | None:
    """The container's log file, created now (kubelet opens it as soon as the container
    starts); None when the container has no log. A file that cannot be made is the client's
    InvalidArgument, as containerd's CRI refuses to start such a container."""
    if not path:
        return None
    try:
        return await asyncio.to_thread(_open_log, path)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidArgument(f"log_path: cannot create log file {path[:100]!r}: {reason}") from exc


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class FifoContainerIO:
    """Implements `ports.io.ContainerIO`: FIFOs in `<state_dir>/io/<container id>/`.

    `open` on a container whose FIFOs exist re-attaches to them (after a restart of hexcri the
    shims still hold their write ends, and buffered output is not lost).
    """

    def __init__(self, state_dir: str, clock: Clock, max_line_size: int = MAX_RECORD) -> None:
        self._root = os.path.join(state_dir, "io")
        self._clock = clock
        self._max_line = max_line_size
        self._pumps: dict[str, _Pump] = {}

    def _dir(self, container_id: str) -> str:
        return os.path.join(self._root, container_id)

    async def open(self, container_id: str, log_path: str, tty: bool, stdin: bool) -> Stdio:
        directory = self._dir(container_id)
        outputs = ["stdout"] if tty else ["stdout", "stderr"]
        names = [*outputs, "stdin"] if stdin else outputs
        stdio = Stdio(
            stdin=os.path.join(directory, "stdin") if stdin else "",
            stdout=os.path.join(directory, "stdout"),
            stderr="" if tty else os.path.join(directory, "stderr"),
            terminal=tty,
        )
        if container_id in self._pumps:
            return stdio
        log_fd = await open_log_file(log_path)
        try:
            await asyncio.to_thread(make_fifos, directory, names)
        except BaseException:
            if log_fd is not None:
                os.close(log_fd)
            raise
        pump = _Pump(self._clock, log_path, log_fd, self._max_line)
        try:
            pump.attach(stdio.stdout, Stream.STDOUT)  # tty output logs as stdout
            if not tty:
                pump.attach(stdio.stderr, Stream.STDERR)
            if stdin:  # held open for the container's life, as containerd's CRI does
                pump.stdin = FifoWriter(stdio.stdin)
        except BaseException:
            await pump.close()
            raise
        self._pumps[container_id] = pump
        return stdio

    async def reopen_log(self, container_id: str) -> None:
        pump = self._pumps.get(container_id)
        if pump is None:
            raise NotFound(f"container {container_id} has no open log")
        await pump.reopen()

    async def attach(self, container_id: str, streams: Streams) -> None:
        pump = self._pumps.get(container_id)
        if pump is None:
            raise NotFound(f"container {container_id} has no open stdio")
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
        if pump is not None and pump.stdin is not None:
            pump.stdin.close()
            pump.stdin = None

    async def close(self, container_id: str) -> None:
        pump = self._pumps.pop(container_id, None)
        if pump is not None:
            with contextlib.suppress(Exception):
                await pump.close()
        await asyncio.to_thread(shutil.rmtree, self._dir(container_id), True)

    async def close_all(self) -> None:
        """Stop every pump, keeping the FIFOs (for a graceful shutdown before a restart)."""
        pumps, self._pumps = self._pumps, {}
        for pump in pumps.values():
            for fifo in pump.fifos:
                fifo.close()
            pump.stop_taps()
            pump._closing = True
            pump._wake.set()
        await asyncio.gather(*(p._writer for p in pumps.values()), return_exceptions=True)


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
