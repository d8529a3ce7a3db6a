"""Node-wide settings the spec generator needs, and where a pod's files live on the node."""

from __future__ import annotations

import posixpath
from typing import Literal

from domain.model import Frozen
from domain.spec.capabilities import ALL_CAPABILITIES

HOSTNAME_FILE = "hostname"
HOSTS_FILE = "hosts"
RESOLV_FILE = "resolv.conf"
SHM_DIR = "shm"


class NodeOptions(Frozen):
    """What the spec generator must know about the node; the composition root detects it.

    The defaults are safe on a cgroup v1 host without a mounted hugetlb controller.
    """

    sandbox_root: str = "/var/lib/hexcri/sandboxes"
    # Lowest oom_score_adj this process may set; None when lowering is permitted.
    min_oom_score_adj: int | None = None
    # How runc manages cgroups: decides the `linux.cgroupsPath` format.
    cgroup_driver: Literal["cgroupfs", "systemd"] = "cgroupfs"
    # The node's hostname: host-network pods, and HOSTNAME when the pod has none.
    hostname: str = ""
    # Where the cgroups of a pod without a cgroup parent go with cgroupfs (containerd's CRI
    # puts them under `/<its namespace>`; the composition root says which).
    default_cgroup_parent: str = "/k8s.io"
    # cgroup v2 (unified): unprivileged containers get a cgroup namespace, as in containerd.
    cgroup_v2: bool = False
    # Whether memory+swap limits can be set (memory.memsw / memory.swap.max exist).
    swap_controller: bool = True
    # Whether the hugetlb controller exists; when not, hugepage limits are dropped.
    hugetlb_controller: bool = False
    # What "all capabilities" means here: the capabilities this process holds (a privileged
    # container cannot get more), as containerd uses its own current set.
    capabilities: tuple[str, ...] = ALL_CAPABILITIES
    # The node's architecture (GOARCH names): the seccomp architectures of RuntimeDefault.
    arch: str = "amd64"
    # The CPUs and memory nodes that exist (kernel cpu lists, "0-3"); "" = not checked.
    online_cpus: str = ""
    online_mems: str = ""
    # The hugepage sizes the host has, in the hugetlb controller's names ("2MB", "1GB");
    # None = not checked.
    hugepage_sizes: tuple[str, ...] | None = None


def sandbox_dir(sandbox_id: str, node: NodeOptions) -> str:
    """The directory that holds a pod's hostname, hosts, resolv.conf and shm."""
    return posixpath.join(node.sandbox_root, sandbox_id)


def sandbox_path(sandbox_id: str, node: NodeOptions, name: str) -> str:
    """One of the pod's files (HOSTNAME_FILE, HOSTS_FILE, RESOLV_FILE, SHM_DIR)."""
    return posixpath.join(sandbox_dir(sandbox_id, node), name)
