"""Sandbox files in memory."""

from __future__ import annotations

import posixpath

from domain.errors import FailedPrecondition, InvalidArgument
from ports.files import HOST_PATH_TYPES, VolumeFile


class MemorySandboxFiles:
    """Implements SandboxFiles: file contents by sandbox ID; the host's paths by type."""

    def __init__(self, root: str = "/var/lib/hexcri/memory/sandboxes") -> None:
        self._root = root
        self.files: dict[str, dict[str, str]] = {}
        self.dirs: set[str] = set()
        self.shm: dict[str, int] = {}
        # (sandbox ID, volume name) -> its files and whether it is a tmpfs
        self.volumes: dict[tuple[str, str], tuple[dict[str, VolumeFile], bool]] = {}
        # host path -> its type (Directory, File, Socket, CharDevice, BlockDevice)
        self.host_paths: dict[str, str] = {}
        self.log_dirs_removed: list[str] = []

    async def write(self, sandbox_id: str, files: dict[str, str], shm_size: int) -> str:
        self.files[sandbox_id] = dict(files)
        self.shm[sandbox_id] = shm_size
        return f"{self._root}/{sandbox_id}"

    async def remove(self, sandbox_id: str) -> None:
        self.files.pop(sandbox_id, None)
        self.shm.pop(sandbox_id, None)
        for key in [k for k in self.volumes if k[0] == sandbox_id]:
            del self.volumes[key]

    async def ensure_dir(self, path: str) -> None:
        self.dirs.add(path)

    async def write_volume(
        self, sandbox_id: str, name: str, files: tuple[VolumeFile, ...], memory: bool
    ) -> str:
        if not name or "/" in name or name in (".", ".."):
            raise InvalidArgument(f"invalid volume name {name!r}")
        for f in files:
            path = posixpath.normpath(f.path)
            if path.startswith(("/", "..")):
                raise InvalidArgument(f"volume file {f.path!r} leaves the volume")
        self.volumes[sandbox_id, name] = ({f.path: f for f in files}, memory)
        return f"{self._root}/{sandbox_id}/volumes/{name}"

    async def check_sub_path(self, volume: str, sub_path: str) -> None:
        """No symlinks in memory: the path itself must stay in the volume."""
        target = posixpath.normpath(posixpath.join(volume, sub_path))
        if posixpath.isabs(sub_path) or not (target + "/").startswith(volume.rstrip("/") + "/"):
            raise InvalidArgument(f"subPath {sub_path[:100]!r} leaves its volume {volume!r}")
        self.dirs.add(target)

    async def check_host_path(self, path: str, kind: str) -> None:
        if kind not in HOST_PATH_TYPES:
            raise InvalidArgument(f"unknown hostPath type {kind!r}")
        if not kind:
            return
        if path not in self.host_paths:
            if not kind.endswith("OrCreate"):
                raise FailedPrecondition(f"hostPath {path} does not exist (type {kind})")
            self.host_paths[path] = kind.removesuffix("OrCreate")
        if self.host_paths[path] != kind.removesuffix("OrCreate"):
            raise FailedPrecondition(f"hostPath {path} is not a {kind.removesuffix('OrCreate')}")

    async def remove_log_dir(self, path: str) -> None:
        self.log_dirs_removed.append(path)
