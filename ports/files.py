"""Files the runtime keeps on the node for a pod (hostname, hosts, resolv.conf)."""

from __future__ import annotations

from typing import Protocol


class SandboxFiles(Protocol):
    async def write(self, sandbox_id: str, files: dict[str, str], shm_size: int) -> str:
        """Write the pod's files into its own directory, with a `shm` tmpfs of `shm_size`
        bytes when that is not 0; returns the directory."""
        ...

    async def remove(self, sandbox_id: str) -> None:
        """Remove the pod's directory. Idempotent."""
        ...

    async def ensure_dir(self, path: str) -> None:
        """Create a host directory a mount needs, when it is missing."""
        ...
