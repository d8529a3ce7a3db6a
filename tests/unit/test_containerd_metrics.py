"""containerd's task metrics (cgroup v1 and v2) decoded into the stats fields, as containerd's
CRI reads them: both versions, without a containerd (this node runs only one of them)."""

from __future__ import annotations

import pytest
from google.protobuf import any_pb2

from adapters.containerd import api
from adapters.containerd.metrics import CGROUPS_V1_TYPE, CGROUPS_V2_TYPE
from adapters.containerd.metrics import decode_metrics as _decode_metrics
from domain.errors import Internal

KERNEL_UNLIMITED = 9223372036854771712  # memory.limit_in_bytes of a cgroup v1 without a limit
V2_UNLIMITED = 2**64 - 1  # containerd's "max"


def packed(type_url: str, message: object) -> any_pb2.Any:
    return any_pb2.Any(type_url=type_url, value=message.SerializeToString())  # type: ignore[attr-defined]


def v1(limit: int, inactive: int = 1_000) -> any_pb2.Any:
    metrics = api.cgroups_v1.Metrics(
        cpu=api.cgroups_v1.CPUStat(usage=api.cgroups_v1.CPUUsage(total=123_456)),
        memory=api.cgroups_v1.MemoryStat(
            usage=api.cgroups_v1.MemoryEntry(usage=10_000, limit=limit),
            total_inactive_file=inactive,
            total_rss=7_000,
            rss=1,  # the cgroup's own, not its hierarchy's: not used
            total_pg_fault=55,
            total_pg_maj_fault=3,
            pg_fault=1,
        ),
        pids=api.cgroups_v1.PidsStat(current=4),
    )
    return packed(CGROUPS_V1_TYPE, metrics)


def v2(limit: int, inactive: int = 1_000) -> any_pb2.Any:
    metrics = api.cgroups_v2.Metrics(
        cpu=api.cgroups_v2.CPUStat(usage_usec=123),
        memory=api.cgroups_v2.MemoryStat(
            usage=10_000,
            usage_limit=limit,
            inactive_file=inactive,
            anon=6_000,
            pgfault=66,
            pgmajfault=2,
        ),
        pids=api.cgroups_v2.PidsStat(current=5),
    )
    return packed(CGROUPS_V2_TYPE, metrics)


def test_cgroup_v1_metrics() -> None:
    assert _decode_metrics(v1(limit=64 << 20)) == {
        "cpu_usage_core_ns": 123_456,
        "memory_usage_bytes": 10_000,
        "memory_working_set_bytes": 9_000,  # usage - total_inactive_file
        "memory_limit_bytes": 64 << 20,
        "memory_rss_bytes": 7_000,
        "memory_page_faults": 55,
        "memory_major_page_faults": 3,
        "process_count": 4,
    }


def test_cgroup_v2_metrics() -> None:
    assert _decode_metrics(v2(limit=64 << 20)) == {
        "cpu_usage_core_ns": 123_000,  # usage_usec in nanoseconds
        "memory_usage_bytes": 10_000,
        "memory_working_set_bytes": 9_000,  # usage - inactive_file
        "memory_limit_bytes": 64 << 20,
        "memory_rss_bytes": 6_000,  # anon, as cAdvisor and containerd on cgroup v2
        "memory_page_faults": 66,
        "memory_major_page_faults": 2,
        "process_count": 5,
    }


@pytest.mark.parametrize("metrics", [v1(KERNEL_UNLIMITED), v2(V2_UNLIMITED)])
def test_the_kernels_no_limit_is_none(metrics: any_pb2.Any) -> None:
    assert _decode_metrics(metrics)["memory_limit_bytes"] == 0


@pytest.mark.parametrize("metrics", [v1(1 << 20, inactive=20_000), v2(1 << 20, inactive=20_000)])
def test_working_set_is_floored_at_zero(metrics: any_pb2.Any) -> None:
    assert _decode_metrics(metrics)["memory_working_set_bytes"] == 0


def test_unknown_metrics_are_an_error() -> None:
    with pytest.raises(Internal, match="unknown metrics type"):
        _decode_metrics(any_pb2.Any(type_url="io.example.Metrics"))
