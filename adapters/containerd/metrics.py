"""Container stats: a task's cgroup metrics (v1 or v2) and its writable layer's usage."""

from __future__ import annotations

import asyncio
from typing import Any

from google.protobuf import any_pb2

from adapters.containerd import api
from adapters.containerd.client import ContainerdClient
from adapters.containerd.introspection import SnapshotterRoot
from adapters.containerd.wire import ts_ns
from domain.errors import Internal, NotFound
from domain.model import ContainerStats

CGROUPS_V1_TYPE = "io.containerd.cgroups.v1.Metrics"
CGROUPS_V2_TYPE = "io.containerd.cgroups.v2.Metrics"
UNLIMITED_MEMORY = 1 << 62  # above it a cgroup's memory limit means none (as containerd)


class ContainerMetrics:
    """Reads the stats of one container: `Tasks.Metrics` and `Snapshots.Usage`."""

    def __init__(self, client: ContainerdClient, snapshotter: str, root: SnapshotterRoot) -> None:
        self._client = client
        self._snapshotter = snapshotter
        self._root = root

    async def stats(self, container_id: str) -> ContainerStats:
        """The task's cgroup metrics and the writable snapshot's usage (0 if unknown, as in
        containerd's CRI)."""
        c = self._client
        metrics: Any
        usage: Any
        metrics, usage, root = await asyncio.gather(
            c.tasks.Metrics(api.tasks.MetricsRequest(filters=[f"id=={container_id}"])),
            c.snapshots.Usage(
                api.snapshots.UsageRequest(snapshotter=self._snapshotter, key=container_id)
            ),
            self._root.get(),
            return_exceptions=True,
        )
        if isinstance(metrics, BaseException):
            raise metrics
        if not metrics.metrics:
            raise NotFound(f"container {container_id} has no running task")
        metric = metrics.metrics[0]
        layer_bytes = layer_inodes = 0
        if not isinstance(usage, BaseException):
            layer_bytes, layer_inodes = int(usage.size), int(usage.inodes)
        return ContainerStats(
            container_id=container_id,
            timestamp=ts_ns(metric.timestamp),
            writable_layer_mountpoint="" if isinstance(root, BaseException) else root,
            writable_layer_bytes=layer_bytes,
            writable_layer_inodes=layer_inodes,
            **decode_metrics(metric.data),
        )


def decode_metrics(data: any_pb2.Any) -> dict[str, int]:
    """The `ContainerStats` fields of cgroup v1 or v2 metrics, as containerd's CRI reads them:
    working set = usage - inactive file (floored at 0); rss is v2's anon; a v1 limit above
    2^62 is no limit."""
    type_url = data.type_url.rsplit("/", 1)[-1]
    if type_url == CGROUPS_V1_TYPE:
        v1 = api.cgroups_v1.Metrics()
        v1.ParseFromString(data.value)
        memory = v1.memory
        usage = int(memory.usage.usage)
        return {
            "cpu_usage_core_ns": int(v1.cpu.usage.total),
            "memory_usage_bytes": usage,
            "memory_working_set_bytes": max(0, usage - int(memory.total_inactive_file)),
            "memory_limit_bytes": _limit(int(memory.usage.limit)),
            "memory_rss_bytes": int(memory.total_rss),
            "memory_page_faults": int(memory.total_pg_fault),
            "memory_major_page_faults": int(memory.total_pg_maj_fault),
            "process_count": int(v1.pids.current),
        }
    if type_url == CGROUPS_V2_TYPE:
        v2 = api.cgroups_v2.Metrics()
        v2.ParseFromString(data.value)
        memory2 = v2.memory
        usage = int(memory2.usage)
        return {
            "cpu_usage_core_ns": int(v2.cpu.usage_usec) * 1000,
            "memory_usage_bytes": usage,
            "memory_working_set_bytes": max(0, usage - int(memory2.inactive_file)),
            "memory_limit_bytes": _limit(int(memory2.usage_limit)),
            "memory_rss_bytes": int(memory2.anon),
            "memory_page_faults": int(memory2.pgfault),
            "memory_major_page_faults": int(memory2.pgmajfault),
            "process_count": int(v2.pids.current),
        }
    raise Internal(f"unknown metrics type {data.type_url!r}")


def _limit(value: int) -> int:
    """A memory limit, 0 for none (the kernel's "unlimited" is a huge page-rounded value)."""
    return 0 if value > UNLIMITED_MEMORY else value
