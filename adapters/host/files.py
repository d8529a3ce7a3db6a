"""The pod's hostname, hosts and resolv.conf files under the root dir."""

from __future__ import annotations

import asyncio
import os
import shutil


class LocalSandboxFiles:
    """Implements SandboxFiles on the local file system, writing each file atomically."""

    def __init__(self, root: str) -> None:
        self._root = root

    def _dir(self, sandbox_id: str) -> str:
        return os.path.join(self._root, sandbox_id)

    async def write(self, sandbox_id: str, files: dict[str, str]) -> str:
        return await asyncio.to_thread(self._write, sandbox_id, files)

    def _write(self, sandbox_id: str, files: dict[str, str]) -> str:
        directory = self._dir(sandbox_id)
        os.makedirs(os.path.join(directory, "shm"), exist_ok=True)
        for name, content in files.items():
            tmp = os.path.join(directory, f".{name}.tmp")
            with open(tmp, "w") as f:
                f.write(content)
            os.chmod(tmp, 0o644)
            os.replace(tmp, os.path.join(directory, name))
        return directory

    async def remove(self, sandbox_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self._dir(sandbox_id), True)

    async def ensure_dir(self, path: str) -> None:
        if path:
            await asyncio.to_thread(_make_missing_dir, path)


def _make_missing_dir(path: str) -> None:
    """Create a missing mount source as a directory, as containerd's CRI does."""
    if not os.path.lexists(path):
        os.makedirs(path, 0o755, exist_ok=True)
