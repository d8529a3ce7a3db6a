"""Facts about this node the spec generator needs: hostname, cgroups, capabilities."""

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
    }
