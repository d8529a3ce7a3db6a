"""Linux resources: the ranges runc and the kernel accept, cpusets of CPUs that exist,
hugepage sizes the host has, `unified` only on cgroup v2."""

from __future__ import annotations

import re

from domain.model import LinuxResources
from domain.spec.node import NodeOptions
from domain.validation.text import check_plain, invalid

CPU_PERIOD_RANGE = (1000, 1_000_000)  # cfs_period_us: 1 ms .. 1 s
CPU_QUOTA_MIN = 1000  # cfs_quota_us: at least 1 ms; -1 is "no limit"
CPU_QUOTA_MAX = (1 << 44) - 1  # the kernel's max_cfs_runtime in µs
CPU_SHARES_RANGE = (2, 262144)  # cgroup v1 cpu.shares (kubelet sends 2 .. 262144)
MIN_MEMORY = 6 * 1024 * 1024  # runc's init cannot run in less (Docker's minimum too)
MAX_INT64 = (1 << 63) - 1
OOM_SCORE_ADJ_RANGE = (-1000, 1000)
_CPU_LIST = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")
_UNIFIED_KEY = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9_.]+$")
_UNIFIED_VALUE_LIMIT = 4096


def parse_cpu_list(field: str, text: str) -> set[int]:
    """The numbers of a kernel cpu list (`0-3,5`); InvalidArgument when malformed."""
    if not _CPU_LIST.match(text):
        raise invalid(field, text, "must be a list of numbers and ranges, such as '0-3,5'")
    out: set[int] = set()
    for item in text.split(","):
        low, _, high = item.partition("-")
        first, last = int(low), int(high or low)
        if last < first or last > 65535:
            raise invalid(field, text, f"has an invalid range {item!r}")
        out.update(range(first, last + 1))
    return out


def _check_cpuset(field: str, text: str, present: str) -> None:
    if not text:
        return
    check_plain(field, text, 1024)
    wanted = parse_cpu_list(field, text)
    if present:
        missing = sorted(wanted - parse_cpu_list(field, present))
        if missing:
            raise invalid(field, text, f"names {missing[0]}, which this node lacks ({present})")


def _check_range(field: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise invalid(field, value, f"must be between {low} and {high} (or 0 for unset)")


def check_resources(field: str, res: LinuxResources, node: NodeOptions) -> None:
    """Every limit of `res`, `field` naming where it sits (e.g. `linux.resources`)."""
    if res.cpu_period:
        _check_range(f"{field}.cpu_period", res.cpu_period, *CPU_PERIOD_RANGE)
    if res.cpu_quota and res.cpu_quota != -1:
        _check_range(f"{field}.cpu_quota", res.cpu_quota, CPU_QUOTA_MIN, CPU_QUOTA_MAX)
    if res.cpu_shares:
        _check_range(f"{field}.cpu_shares", res.cpu_shares, *CPU_SHARES_RANGE)
    if res.memory_limit_in_bytes:
        _check_range(
            f"{field}.memory_limit_in_bytes", res.memory_limit_in_bytes, MIN_MEMORY, MAX_INT64
        )
    swap = res.memory_swap_limit_in_bytes
    if swap and swap != -1:
        _check_range(f"{field}.memory_swap_limit_in_bytes", swap, MIN_MEMORY, MAX_INT64)
        if res.memory_limit_in_bytes and swap < res.memory_limit_in_bytes:
            raise invalid(
                f"{field}.memory_swap_limit_in_bytes",
                swap,
                f"memory+swap must not be below the memory limit {res.memory_limit_in_bytes}",
            )
    if not OOM_SCORE_ADJ_RANGE[0] <= res.oom_score_adj <= OOM_SCORE_ADJ_RANGE[1]:
        raise invalid(f"{field}.oom_score_adj", res.oom_score_adj, "must be between -1000 and 1000")
    _check_cpuset(f"{field}.cpuset_cpus", res.cpuset_cpus, node.online_cpus)
    _check_cpuset(f"{field}.cpuset_mems", res.cpuset_mems, node.online_mems)
    for i, page in enumerate(res.hugepage_limits):
        name = f"{field}.hugepage_limits[{i}].page_size"
        check_plain(name, page.page_size, 64)
        if node.hugepage_sizes is not None and page.page_size not in node.hugepage_sizes:
            sizes = ", ".join(node.hugepage_sizes) or "none"
            raise invalid(name, page.page_size, f"is not a hugepage size of this node ({sizes})")
        if page.limit < 0:
            raise invalid(f"{field}.hugepage_limits[{i}].limit", page.limit, "must not be negative")
    _check_unified(f"{field}.unified", res.unified, node)


def _check_unified(field: str, unified: dict[str, str], node: NodeOptions) -> None:
    if not unified:
        return
    if not node.cgroup_v2:
        raise invalid(field, dict(unified), "needs cgroup v2; this node runs cgroup v1")
    for key, value in unified.items():
        if not _UNIFIED_KEY.match(key):
            raise invalid(f"{field} key", key, "must be a cgroup v2 file name like 'memory.high'")
        check_plain(f"{field}[{key!r}]", value, _UNIFIED_VALUE_LIMIT)
