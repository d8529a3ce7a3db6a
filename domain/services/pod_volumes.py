"""The volumes of a pod that hexcri runs from a manifest (static pods, `hexcri play`): made
in the pod's directory, hostPaths checked, subPaths kept inside their volume."""

from __future__ import annotations

from dataclasses import dataclass

from ports.files import SandboxFiles, VolumeFile


@dataclass(frozen=True)
class PodVolumes:
    files: SandboxFiles

    async def write_volume(
        self, sandbox_id: str, name: str, files: tuple[VolumeFile, ...], memory: bool
    ) -> str:
        """The pod's volume `name` with `files` written in it; returns its path."""
        return await self.files.write_volume(sandbox_id, name, files, memory)

    async def check_host_path(self, path: str, kind: str) -> None:
        await self.files.check_host_path(path, kind)

    async def check_sub_path(self, volume: str, sub_path: str) -> None:
        await self.files.check_sub_path(volume, sub_path)

    async def remove_log_dir(self, path: str) -> None:
        await self.files.remove_log_dir(path)
