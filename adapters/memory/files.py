"""Sandbox files in memory."""

from __future__ import annotations


class MemorySandboxFiles:
    """Implements SandboxFiles: file contents by sandbox ID."""

    def __init__(self, root: str = "/var/lib/hexcri/memory/sandboxes") -> None:
        self._root = root
        self.files: dict[str, dict[str, str]] = {}
        self.dirs: set[str] = set()
        self.shm: dict[str, int] = {}

    async def write(self, sandbox_id: str, files: dict[str, str], shm_size: int) -> str:
        self.files[sandbox_id] = dict(files)
        self.shm[sandbox_id] = shm_size
        return f"{self._root}/{sandbox_id}"

    async def remove(self, sandbox_id: str) -> None:
        self.files.pop(sandbox_id, None)
        self.shm.pop(sandbox_id, None)

    async def ensure_dir(self, path: str) -> None:
        self.dirs.add(path)
