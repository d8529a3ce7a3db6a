"""The pod's hostname, hosts and resolv.conf files, its /dev/shm tmpfs and its volumes under
the root dir; hostPath checks."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import os
import shutil
import stat

from domain.errors import FailedPrecondition, Internal, InvalidArgument
from ports.files import HOST_PATH_TYPES, VolumeFile

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
        directory = self._dir(sandbox_id)
        volumes = os.path.join(directory, "volumes")
        names = os.listdir(volumes) if os.path.isdir(volumes) else []
        for mount in [os.path.join(directory, "shm")] + [os.path.join(volumes, n) for n in names]:
            _unmount(mount)
        shutil.rmtree(directory, ignore_errors=True)

    async def ensure_dir(self, path: str) -> None:
        if path:
            await asyncio.to_thread(_make_missing_dir, path)

    async def write_volume(
        self, sandbox_id: str, name: str, files: tuple[VolumeFile, ...], memory: bool
    ) -> str:
        return await asyncio.to_thread(self._write_volume, sandbox_id, name, files, memory)

    def _write_volume(
        self, sandbox_id: str, name: str, files: tuple[VolumeFile, ...], memory: bool
    ) -> str:
        if not name or "/" in name or name in (".", ".."):
            raise InvalidArgument(f"invalid volume name {name!r}")
        directory = os.path.join(self._dir(sandbox_id), "volumes", name)
        os.makedirs(directory, 0o755, exist_ok=True)
        if memory and not os.path.ismount(directory):
            _mount_tmpfs(directory, 0, flags=_MS_NOSUID | _MS_NODEV, mode=0o777, source="tmpfs")
        os.chmod(directory, 0o777)  # emptyDir is world-writable, as kubelet makes it
        for f in files:
            target = os.path.normpath(os.path.join(directory, f.path))
            if not target.startswith(directory + os.sep):
                raise InvalidArgument(f"volume file {f.path!r} leaves the volume")
            os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
            tmp = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.tmp")
            with open(tmp, "wb") as out:
                out.write(f.content)
            os.chmod(tmp, f.mode)
            os.replace(tmp, target)
        return directory

    async def check_host_path(self, path: str, kind: str) -> None:
        await asyncio.to_thread(_check_host_path, path, kind)

    async def check_sub_path(self, volume: str, sub_path: str) -> None:
        await asyncio.to_thread(_check_sub_path, volume, sub_path)

    async def remove_log_dir(self, path: str) -> None:
        if path:
            await asyncio.to_thread(shutil.rmtree, path, True)


_TYPE_TESTS = {
    "Directory": stat.S_ISDIR,
    "DirectoryOrCreate": stat.S_ISDIR,
    "File": stat.S_ISREG,
    "FileOrCreate": stat.S_ISREG,
    "Socket": stat.S_ISSOCK,
    "CharDevice": stat.S_ISCHR,
    "BlockDevice": stat.S_ISBLK,
}


def _check_sub_path(volume: str, sub_path: str) -> None:
    """Kubernetes' subPath rule: what the path names, symlinks resolved, is in the volume."""
    target = os.path.join(volume, sub_path)
    root, real = os.path.realpath(volume), os.path.realpath(target)
    if os.path.isabs(sub_path) or not (real == root or real.startswith(root + os.sep)):
        raise InvalidArgument(f"subPath {sub_path[:100]!r} leaves its volume {volume!r}")
    if not os.path.lexists(target):
        os.makedirs(target, 0o755, exist_ok=True)


def _check_host_path(path: str, kind: str) -> None:
    """Kubernetes' hostPath type checks; the *OrCreate types create what is missing."""
    if kind not in HOST_PATH_TYPES:
        raise InvalidArgument(f"unknown hostPath type {kind!r}")
    if not kind:
        return
    if not os.path.lexists(path):
        if kind == "DirectoryOrCreate":
            os.makedirs(path, 0o755, exist_ok=True)
        elif kind == "FileOrCreate":
            os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
            with open(path, "a"):
                pass
        else:
            raise FailedPrecondition(f"hostPath {path} does not exist (type {kind})")
    if not _TYPE_TESTS[kind](os.stat(path).st_mode):
        raise FailedPrecondition(f"hostPath {path} is not a {kind.removesuffix('OrCreate')}")


def _unmount(path: str) -> None:
    if os.path.ismount(path) and _libc.umount2(os.fsencode(path), _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):
            raise Internal(f"cannot unmount {path}: {os.strerror(err)}")


def _mount_tmpfs(
    path: str,
    size: int,
    flags: int = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC,
    mode: int = 0o1777,
    source: str = "shm",
) -> None:
    options = f"mode={mode:o}" + (f",size={size}" if size else "")
    if _libc.mount(source.encode(), os.fsencode(path), b"tmpfs", flags, options.encode()) != 0:
        err = ctypes.get_errno()
        raise Internal(f"cannot mount a tmpfs at {path}: {os.strerror(err)}")


def _make_missing_dir(path: str) -> None:
    """Create a missing mount source as a directory, as containerd's CRI does."""
    if not os.path.lexists(path):
        os.makedirs(path, 0o755, exist_ok=True)
