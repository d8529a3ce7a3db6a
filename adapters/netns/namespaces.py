"""`NetworkNamespaces` on system calls: one named, bind-mounted namespace per pod sandbox.

The namespace of sandbox `<id>` is pinned at `<root_dir>/hexcri-<instance>-<id>` (as `ip netns
add` would), so other tools see it; `<instance>` names this hexcri (a short hash of its root
directory and containerd namespace), so that `list()` finds only its own pins even where
another hexcri shares the directory.

No fork: a child forked from a gRPC process may crash, and takes the server's socket with it
when it exits. A network namespace is a per-thread attribute, so a namespace is made in a
short-lived thread of its own that unshares, pins `/proc/thread-self/ns/net` with a bind
mount, brings `lo` up with an ioctl from inside, and ends (as Go's netns packages do with a
locked OS thread). The interface counters come from `/proc/thread-self/net/dev` in such a
thread. (No pyroute2 here: importing it costs 22 MiB of resident memory.)
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import hashlib
import os
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from domain.errors import Internal, NotFound
from domain.model import InterfaceStats

T = TypeVar("T")

PREFIX = "hexcri-"
ID_LENGTH = 64  # sandbox ids are 64 hex digits
DEFAULT_ROOT = "/var/run/netns"
_MNT_DETACH = 2
_MS_BIND = 4096
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class PyrouteNamespaces:
    """Implements NetworkNamespaces."""

    def __init__(self, root_dir: str = DEFAULT_ROOT, instance: str = "") -> None:
        self.root_dir = root_dir
        self.prefix = f"{PREFIX}{instance}-" if instance else PREFIX

    def path_of(self, sandbox_id: str) -> str:
        return os.path.join(self.root_dir, self.prefix + sandbox_id)

    async def create(self, sandbox_id: str) -> str:
        path = self.path_of(sandbox_id)
        await _in_own_thread(lambda: self._create(path))
        return path

    async def remove(self, path: str) -> None:
        if path:
            await asyncio.to_thread(_remove, path)

    async def list(self) -> list[str]:
        return await asyncio.to_thread(self._list)

    async def interface_stats(self, path: str) -> builtins.list[InterfaceStats]:
        """Read over netlink from a throw-away thread that joins the namespace (setns)."""
        return await _in_own_thread(lambda: _interface_stats(path))

    def _create(self, path: str) -> None:
        os.makedirs(self.root_dir, exist_ok=True)
        try:
            os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444))
        except FileExistsError as e:
            raise Internal(f"network namespace {path} already exists") from e
        try:
            _unshare_and_pin(path)
        except OSError as e:
            _remove(path)
            raise Internal(f"cannot create network namespace {path}: {e}") from e
        except BaseException:
            _remove(path)
            raise

    def _list(self) -> builtins.list[str]:
        try:
            names = os.listdir(self.root_dir)
        except FileNotFoundError:
            return []
        return sorted(os.path.join(self.root_dir, n) for n in names if self._ours(n))

    def _ours(self, name: str) -> bool:
        """Whether a pin is this instance's: its prefix, then a sandbox id (no other
        instance's prefix, which would go on with `<instance>-`)."""
        rest = name[len(self.prefix) :]
        return name.startswith(self.prefix) and len(rest) == ID_LENGTH and "-" not in rest


def instance_id(*parts: str) -> str:
    """A short, stable name for one hexcri: a hash of what sets it apart from others."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]


async def _in_own_thread(fn: Callable[[], T]) -> T:
    """Run `fn` in a new thread that ends with it (its namespaces die with it)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        try:
            result = fn()
        except BaseException as e:
            loop.call_soon_threadsafe(_fail, done, e)
        else:
            loop.call_soon_threadsafe(_resolve, done, result)

    threading.Thread(target=run, name="netns", daemon=True).start()
    return await done


def _resolve(future: asyncio.Future[T], result: T) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[T], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _unshare_and_pin(path: str) -> None:
    """In the calling (throw-away) thread: new netns, pinned at `path`, `lo` up."""
    _check(_libc.unshare(_CLONE_NEWNET), "unshare")
    own = f"/proc/self/task/{threading.get_native_id()}/ns/net"
    _check(_libc.mount(own.encode(), os.fsencode(path), None, _MS_BIND, None), "bind mount")
    _loopback_up()


_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFREQ = "16sh22x"  # struct ifreq: the name, then ifr_flags in the union


def _loopback_up() -> None:
    """`ip link set lo up`, in the calling thread's network namespace."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # lives in this netns
        try:
            got = fcntl.ioctl(sock, _SIOCGIFFLAGS, struct.pack(_IFREQ, b"lo", 0))
            flags = struct.unpack(_IFREQ, got)[1]
            fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | _IFF_UP))
        except OSError as exc:
            raise Internal(f"cannot bring the loopback interface up: {exc.strerror}") from exc


def _interface_stats(path: str) -> builtins.list[InterfaceStats]:
    """In the calling (throw-away) thread: join the namespace at `path`, read its links."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFound(f"no network namespace at {path}") from None
    try:
        if _libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise NotFound(f"no network namespace at {path}: {os.strerror(err)}")
    finally:
        os.close(fd)
    with open("/proc/thread-self/net/dev") as f:  # this thread's namespace, since setns
        return _parse_net_dev(f.read())


def _parse_net_dev(text: str) -> builtins.list[InterfaceStats]:
    """/proc/net/dev: two header lines, then `name: ` and 8 receive, 8 transmit counters."""
    stats = []
    for line in text.splitlines()[2:]:
        name, _, counters = line.partition(":")
        fields = counters.split()
        if len(fields) < 16:
            continue
        stats.append(
            InterfaceStats(
                name=name.strip(),
                rx_bytes=int(fields[0]),
                rx_errors=int(fields[2]),
                tx_bytes=int(fields[8]),
                tx_errors=int(fields[10]),
            )
        )
    return stats


def _remove(path: str) -> None:
    """Lazy-unmount the pin and unlink it; a missing or unmounted path is fine."""
    if _libc.umount2(os.fsencode(path), _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):
            raise Internal(f"cannot unmount network namespace {path}: {os.strerror(err)}")
    with contextlib.suppress(FileNotFoundError):
        Path(path).unlink()
