"""TCP connections into a pod's network namespace.

A socket belongs to the network namespace of the thread that made it, for its whole life.
So the socket is made (and connected) in a short-lived thread of its own that first joins
the pod's namespace with setns(2); the thread then ends, so no thread ever goes back to a
pool in a foreign namespace. The event loop then uses the socket like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import socket
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
CONNECT_TIMEOUT = 10.0
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class StreamConnection:
    """Implements `ports.streams.Connection` on asyncio streams."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self) -> bytes:
        try:
            return await self._reader.read(64 * 1024)
        except ConnectionError:
            return b""

    async def write(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def close_write(self) -> None:
        if self._writer.can_write_eof():
            with contextlib.suppress(OSError):
                self._writer.write_eof()

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


def _connect_localhost(port: int) -> socket.socket:
    """Connect to localhost:`port` (IPv4, then IPv6) in the calling thread's namespace."""
    errors = []
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect((host, port))
        except OSError as e:
            sock.close()
            errors.append(f"{host}: {e.strerror or e}")
            continue
        sock.setblocking(False)
        return sock
    raise ConnectionRefusedError(f"cannot connect to localhost:{port} ({'; '.join(errors)})")


def _in_netns(netns_path: str, port: int) -> socket.socket:
    fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {netns_path}: {os.strerror(err)}")
    finally:
        os.close(fd)
    return _connect_localhost(port)


async def _in_own_thread(fn: Callable[[], T]) -> T:
    """Run `fn` in a new thread that ends with it."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if done.cancelled():
            if isinstance(result, socket.socket):
                result.close()
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result = fn()
        except BaseException as e:
            loop.call_soon_threadsafe(settle, None, e)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=run, name="netns-dial", daemon=True).start()
    return await done


class NetnsDialer:
    """Implements `ports.streams.PodDialer` with setns(2) in a throw-away thread."""

    async def dial(self, netns_path: str, port: int) -> StreamConnection:
        if netns_path:
            sock = await _in_own_thread(lambda: _in_netns(netns_path, port))
        else:
            sock = await _in_own_thread(lambda: _connect_localhost(port))
        reader, writer = await asyncio.open_connection(sock=sock)
        return StreamConnection(reader, writer)


class NodeDialer:
    """Implements `ports.streams.PodDialer` for the simulator: its pods have no network of
    their own, so a pod's localhost is the node's."""

    async def dial(self, netns_path: str, port: int) -> StreamConnection:
        sock = await _in_own_thread(lambda: _connect_localhost(port))
        reader, writer = await asyncio.open_connection(sock=sock)
        return StreamConnection(reader, writer)
