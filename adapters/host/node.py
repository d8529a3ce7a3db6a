"""Facts about this node the spec generator and the request checks need: hostname, cgroups,
capabilities, the CPUs, memory nodes and hugepage sizes that exist."""

from __future__ import annotations

import os
import platform
import socket
from typing import Any

from domain.spec.capabilities import ALL_CAPABILITIES

CGROUP_ROOT = "/sys/fs/cgroup"


def own_capabilities(status_path: str = "/proc/self/status") -> tuple[str, ...]:
    """The bounding set of this process: what a privileged container can be given
    (ALL_CAPABILITIES is in kernel bit order)."""
    with open(status_path) as f:
        for line in f:
            if line.startswith("CapBnd:"):
                mask = int(line.split()[1], 16)
                return tuple(n for i, n in enumerate(ALL_CAPABILITIES) if mask >> i & 1)
    return ALL_CAPABILITIES


GOARCH = {"x86_64": "amd64", "aarch64": "arm64"}
CPU_ONLINE = "/sys/devices/system/cpu/online"
NODE_ONLINE = "/sys/devices/system/node/online"
HUGEPAGES = "/sys/kernel/mm/hugepages"


def _read(path: str) -> str:
    """A one-line sysfs file, "" when absent (the check it feeds is then skipped)."""
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def hugepage_size_name(kib: int) -> str:
    """The hugetlb controller's name of a page size: 2048 KiB → "2MB", 1048576 → "1GB"."""
    for unit, size in (("GB", 1 << 20), ("MB", 1 << 10)):
        if kib % size == 0:
            return f"{kib // size}{unit}"
    return f"{kib}KB"


def hugepage_sizes(root: str = HUGEPAGES) -> tuple[str, ...]:
    """The sizes under /sys/kernel/mm/hugepages (`hugepages-2048kB`, ...)."""
    try:
        names = os.listdir(root)
    except OSError:
        return ()
    kib = sorted(int(n[len("hugepages-") : -2]) for n in names if n.startswith("hugepages-"))
    return tuple(hugepage_size_name(k) for k in kib)


def node_facts(root: str = CGROUP_ROOT) -> dict[str, Any]:
    """NodeOptions fields detected on this host."""
    v2 = os.path.exists(os.path.join(root, "cgroup.controllers"))
    if v2:
        with open(os.path.join(root, "cgroup.controllers")) as f:
            controllers = set(f.read().split())
        hugetlb = "hugetlb" in controllers
        swap = True
    else:
        hugetlb = os.path.isdir(os.path.join(root, "hugetlb"))
        swap = os.path.exists(os.path.join(root, "memory", "memory.memsw.limit_in_bytes"))
    return {
        "hostname": socket.gethostname(),
        "cgroup_v2": v2,
        "hugetlb_controller": hugetlb,
        "swap_controller": swap,
        "capabilities": own_capabilities(),
        "arch": GOARCH.get(platform.machine(), platform.machine()),
        "online_cpus": _read(CPU_ONLINE),
        "online_mems": _read(NODE_ONLINE),
        "hugepage_sizes": hugepage_sizes(),
    }
