"""`NetworkNamespaces` on pyroute2: one named, bind-mounted namespace per pod sandbox.

The namespace of sandbox `<id>` is pinned at `<root_dir>/hexcri-<id>` (as `ip netns add`
would), so other tools see it and `list()` finds only ours. pyroute2 forks to unshare and
talks netlink synchronously, so every call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import ctypes
import ctypes.util
import errno
import os
from pathlib import Path

from pyroute2 import IPRoute, netns

from domain.errors import Internal

PREFIX = "hexcri-"
DEFAULT_ROOT = "/var/run/netns"
_MNT_DETACH = 2
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class PyrouteNamespaces:
    """Implements NetworkNamespaces."""

    def __init__(self, root_dir: str = DEFAULT_ROOT) -> None:
        self.root_dir = root_dir

    def path_of(self, sandbox_id: str) -> str:
        return os.path.join(self.root_dir, PREFIX + sandbox_id)

    async def create(self, sandbox_id: str) -> str:
        path = self.path_of(sandbox_id)
        await asyncio.to_thread(self._create, path)
        return path

    async def remove(self, path: str) -> None:
        if path:
            await asyncio.to_thread(_remove, path)

    async def list(self) -> list[str]:
        return await asyncio.to_thread(self._list)

    def _create(self, path: str) -> None:
        os.makedirs(self.root_dir, exist_ok=True)
        try:
            netns.create(path)
        except FileExistsError as e:
            raise Internal(f"network namespace {path} already exists") from e
        except OSError as e:
            _remove(path)
            raise Internal(f"cannot create network namespace {path}: {e}") from e
        try:
            _loopback_up(path)
        except BaseException:
            _remove(path)
            raise

    def _list(self) -> builtins.list[str]:
        try:
            names = os.listdir(self.root_dir)
        except FileNotFoundError:
            return []
        return sorted(os.path.join(self.root_dir, n) for n in names if n.startswith(PREFIX))


def _loopback_up(path: str) -> None:
    """Bring `lo` up inside the namespace at `path` (which must exist: flags=0)."""
    with IPRoute(netns=path, flags=0) as ipr:
        index = ipr.link_lookup(ifname="lo")
        if not index:
            raise Internal(f"network namespace {path} has no loopback interface")
        ipr.link("set", index=index[0], state="up")


def _remove(path: str) -> None:
    """Lazy-unmount the pin and unlink it; a missing or unmounted path is fine."""
    if _libc.umount2(os.fsencode(path), _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):
            raise Internal(f"cannot unmount network namespace {path}: {os.strerror(err)}")
    with contextlib.suppress(FileNotFoundError):
        Path(path).unlink()
