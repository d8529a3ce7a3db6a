"""The pod's hostname, hosts and resolv.conf files and its /dev/shm tmpfs under the root dir."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import os
import shutil

from domain.errors import Internal

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 2, 4, 8
_MNT_DETACH = 2


class LocalSandboxFiles:
    """Implements SandboxFiles on the local file system, writing each file atomically."""

    def __init__(self, root: str) -> None:
        self._root = root

    def _dir(self, sandbox_id: str) -> str:
        return os.path.join(self._root, sandbox_id)

    async def write(self, sandbox_id: str, files: dict[str, str], shm_size: int) -> str:
        return await asyncio.to_thread(self._write, sandbox_id, files, shm_size)

    def _write(self, sandbox_id: str, files: dict[str, str], shm_size: int) -> str:
        directory = self._dir(sandbox_id)
        shm = os.path.join(directory, "shm")
        os.makedirs(shm, exist_ok=True)
        for name, content in files.items():
            tmp = os.path.join(directory, f".{name}.tmp")
            with open(tmp, "w") as f:
                f.write(content)
            os.chmod(tmp, 0o644)
            os.replace(tmp, os.path.join(directory, name))
        if shm_size and not os.path.ismount(shm):
            _mount_tmpfs(shm, shm_size)
        return directory

    async def remove(self, sandbox_id: str) -> None:
        await asyncio.to_thread(self._remove, sandbox_id)

    def _remove(self, sandbox_id: str) -> None:
        shm = os.path.join(self._dir(sandbox_id), "shm")
        if os.path.ismount(shm) and _libc.umount2(os.fsencode(shm), _MNT_DETACH) != 0:
            err = ctypes.get_errno()
            if err not in (errno.EINVAL, errno.ENOENT):
                raise Internal(f"cannot unmount {shm}: {os.strerror(err)}")
        shutil.rmtree(self._dir(sandbox_id), ignore_errors=True)

    async def ensure_dir(self, path: str) -> None:
        if path:
            await asyncio.to_thread(_make_missing_dir, path)


def _mount_tmpfs(path: str, size: int) -> None:
    flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    options = f"mode=1777,size={size}".encode()
    if _libc.mount(b"shm", os.fsencode(path), b"tmpfs", flags, options) != 0:
        err = ctypes.get_errno()
        raise Internal(f"cannot mount the pod's shm at {path}: {os.strerror(err)}")


def _make_missing_dir(path: str) -> None:
    """Create a missing mount source as a directory, as containerd's CRI does."""
    if not os.path.lexists(path):
        os.makedirs(path, 0o755, exist_ok=True)
