"""The snapshotter's disk use as containerd's CRI measures it for ImageFsInfo: the sum of
the snapshotter's `Usage` of every snapshot of the namespace (the overlayfs snapshotter walks
a snapshot's directory as `du` does: allocated blocks, each inode once)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

from adapters.containerd import api
from adapters.containerd.client import ContainerdClient
from adapters.containerd.introspection import SnapshotterRoot
from domain.errors import Internal, NotFound
from domain.model import FilesystemUsage

CONCURRENT_USAGE_CALLS = 8


class SnapshotterUsage:
    """Measures the snapshotter's directory. Committed snapshots never change: their usage
    is asked once and remembered."""

    def __init__(self, client: ContainerdClient, root: SnapshotterRoot) -> None:
        self._client = client
        self._root = root
        self._committed: dict[str, tuple[int, int]] = {}

    async def measure(self) -> FilesystemUsage:
        """Internal when the directory is not there to measure (never a silent 0)."""
        root = await self._root.get()
        if not root or not await asyncio.to_thread(os.path.isdir, root):
            raise Internal(
                f"cannot measure the image filesystem: snapshotter {self._root.snapshotter!r} "
                f"has no directory {root!r}"
            )
        timestamp = time.time_ns()
        infos = []
        async for reply in self._client.snapshots.List(
            api.snapshots.ListSnapshotsRequest(snapshotter=self._root.snapshotter)
        ):
            infos.extend(reply.info)
        gate = asyncio.Semaphore(CONCURRENT_USAGE_CALLS)
        usages = await asyncio.gather(*(self._usage(i, gate) for i in infos))
        committed = {i.name for i in infos if i.kind == api.snapshots.COMMITTED}
        for name in [n for n in self._committed if n not in committed]:
            del self._committed[name]  # removed since
        return FilesystemUsage(
            mountpoint=root,
            timestamp=timestamp,
            used_bytes=sum(size for size, _ in usages),
            inodes_used=sum(inodes for _, inodes in usages),
        )

    async def _usage(self, info: api.snapshots.Info, gate: asyncio.Semaphore) -> tuple[int, int]:
        known = self._committed.get(info.name)
        if known is not None:
            return known
        async with gate:
            with contextlib.suppress(NotFound):  # removed since the listing
                reply = await self._client.snapshots.Usage(
                    api.snapshots.UsageRequest(snapshotter=self._root.snapshotter, key=info.name)
                )
                usage = (int(reply.size), int(reply.inodes))
                if info.kind == api.snapshots.COMMITTED:
                    self._committed[info.name] = usage
                return usage
        return 0, 0
