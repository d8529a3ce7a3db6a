"""Files the runtime keeps on the node for a pod (hostname, hosts, resolv.conf, volumes)."""

from __future__ import annotations

from typing import Protocol

from domain.model import Frozen

# hostPath volume types (Kubernetes' HostPathType); "" checks nothing
HOST_PATH_TYPES = (
    "", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice",
    "BlockDevice",
)  # fmt: skip


class VolumeFile(Frozen):
    """A file of a volume: its path relative to the volume, content and mode."""

    path: str
    content: bytes
    mode: int = 0o644


class SandboxFiles(Protocol):
    async def write(self, sandbox_id: str, files: dict[str, str], shm_size: int) -> str:
        """Write the pod's files into its own directory, with a `shm` tmpfs of `shm_size`
        bytes when that is not 0; returns the directory."""
        ...

    async def remove(self, sandbox_id: str) -> None:
        """Remove the pod's directory (and unmount what is mounted in it). Idempotent."""
        ...

    async def ensure_dir(self, path: str) -> None:
        """Create a host directory a mount needs, when it is missing."""
        ...

    async def write_volume(
        self, sandbox_id: str, name: str, files: tuple[VolumeFile, ...], memory: bool
    ) -> str:
        """Make the pod's volume directory `volumes/<name>` in its directory (a tmpfs when
        `memory`) and write `files` into it (what else it holds stays); returns its path.
        Idempotent; `remove` takes the volumes with the pod's directory."""
        ...

    async def check_host_path(self, path: str, kind: str) -> None:
        """Check a hostPath against its type (HOST_PATH_TYPES), creating it for
        DirectoryOrCreate/FileOrCreate; FailedPrecondition when it does not match."""
        ...

    async def check_sub_path(self, volume: str, sub_path: str) -> None:
        """Check that `sub_path` (relative) stays inside the volume directory `volume` once
        every symlink in it is resolved (a container may have left one there), and make the
        directory when it is missing; InvalidArgument when it leads out."""
        ...

    async def remove_log_dir(self, path: str) -> None:
        """Remove a pod's log directory. Idempotent."""
        ...
