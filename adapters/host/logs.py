"""CRI log files on the node's disk, written off the event loop."""

from __future__ import annotations

import asyncio
import logging
import os

from domain.errors import Internal, InvalidArgument

log = logging.getLogger(__name__)


def _open(path: str) -> int:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class HostLogFile:
    """Implements `ports.io.LogFile`: appends go to a writer task, which writes what has
    piled up in one go in a worker thread (the event loop never waits for the disk)."""

    def __init__(self, path: str, fd: int) -> None:
        self._path = path
        self._fd: int | None = fd
        self._pending: list[bytes] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()  # one flush at a time, and none during a reopen
        self._closing = False
        self._writer = asyncio.create_task(self._write_loop())

    def write(self, data: bytes) -> None:
        if not self._closing:
            self._pending.append(data)
            self._wake.set()

    async def _write_loop(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            await self._flush()

    async def _flush(self) -> None:
        async with self._lock:
            while self._pending:
                data, self._pending = b"".join(self._pending), []
                try:
                    if self._fd is None:
                        self._fd = await asyncio.to_thread(_open, self._path)
                    await asyncio.to_thread(_write_all, self._fd, data)
                except OSError:
                    log.exception("cannot write container log %s", self._path)

    async def _close_fd(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            await asyncio.to_thread(os.close, fd)

    async def reopen(self) -> None:
        await self._flush()  # what came before the rotation goes to the old file
        async with self._lock:
            await self._close_fd()
            try:
                self._fd = await asyncio.to_thread(_open, self._path)
            except OSError as exc:
                raise Internal(f"cannot reopen log file {self._path[:100]!r}: {exc}") from exc

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        await self._writer
        await self._flush()
        async with self._lock:
            await self._close_fd()


class HostLogFiles:
    """Implements `ports.io.LogFiles` on the local file system."""

    async def open(self, path: str) -> HostLogFile:
        try:
            fd = await asyncio.to_thread(_open, path)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise InvalidArgument(reason) from exc
        return HostLogFile(path, fd)
