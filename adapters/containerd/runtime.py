"""The container runtime port on containerd: a facade over the adapter's parts.

`tasks` (snapshot, container, task lifecycle, resources, listing), `exec` (processes run in a
task), `metrics` (stats), `users` (the process's user from the image's files) and `content`
(leases and ingests a crash left) do the work.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from google.protobuf import empty_pb2

from adapters.containerd import content
from adapters.containerd.client import ContainerdClient
from adapters.containerd.exec import Execs
from adapters.containerd.introspection import SnapshotterRoot
from adapters.containerd.metrics import ContainerMetrics
from adapters.containerd.tasks import ContainerTasks
from domain.errors import Unavailable
from domain.model import ContainerStats, ExecResult, RuntimeContainer
from ports.runtime import EXEC_OUTPUT_LIMIT, CreateRequest
from ports.streams import Streams, TerminalSize


class ContainerdRuntime:
    """Implements `ports.runtime.ContainerRuntime` on containerd's gRPC API."""

    def __init__(
        self,
        client: ContainerdClient,
        state_dir: str,
        *,
        snapshotter: str = "overlayfs",
        runtime: str = "io.containerd.runc.v2",
        runtime_options: dict[str, Any] | None = None,
        snapshotter_root: SnapshotterRoot | None = None,
    ) -> None:
        self._client = client
        self._tasks = ContainerTasks(client, snapshotter, runtime, runtime_options or {})
        self._execs = Execs(client, self._tasks, state_dir)
        root = snapshotter_root or SnapshotterRoot(client, snapshotter)
        self._metrics = ContainerMetrics(client, snapshotter, root)

    async def create(self, request: CreateRequest) -> None:
        await self._tasks.create(request)

    async def start(self, container_id: str) -> int:
        return await self._tasks.start(container_id)

    async def kill(self, container_id: str, signal: int) -> None:
        await self._tasks.kill(container_id, signal)

    async def reap(self, container_id: str) -> None:
        await self._tasks.reap(container_id)

    async def delete(self, container_id: str) -> None:
        await self._tasks.delete(container_id)

    async def update_resources(self, container_id: str, resources: dict[str, Any]) -> None:
        await self._tasks.update_resources(container_id, resources)

    async def exec_sync(
        self,
        container_id: str,
        cmd: Sequence[str],
        timeout: float | None,
        limit: int = EXEC_OUTPUT_LIMIT,
    ) -> ExecResult:
        return await self._execs.exec_sync(container_id, cmd, timeout, limit)

    async def exec(self, container_id: str, cmd: Sequence[str], streams: Streams) -> int:
        return await self._execs.exec(container_id, cmd, streams)

    async def resize(self, container_id: str, size: TerminalSize) -> None:
        await self._tasks.resize(container_id, size)

    async def close_stdin(self, container_id: str) -> None:
        await self._tasks.close_stdin(container_id)

    async def stats(self, container_id: str) -> ContainerStats:
        return await self._metrics.stats(container_id)

    async def list(self) -> builtins.list[RuntimeContainer]:
        return await self._tasks.list()

    async def inspect(self, container_id: str) -> RuntimeContainer:
        return await self._tasks.inspect(container_id)

    async def release_interrupted(self, before_ns: int) -> None:
        """The execs a crash cut first (their FIFOs may hold a shim up), then leases and
        ingests."""
        await self._execs.release_cut(before_ns)
        await content.release_interrupted(self._client, before_ns)

    async def ready(self) -> bool:
        try:
            await self._client.version.Version(empty_pb2.Empty())
        except Unavailable:
            return False
        return True
