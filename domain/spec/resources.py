"""cgroups: the cgroups path, CPU/memory/hugepage limits, oom_score_adj and sysctls."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from domain.model import LinuxResources
from domain.spec.node import NodeOptions
from domain.spec.pipeline import Spec, Step, linux, process, resources

SANDBOX_OOM_SCORE_ADJ = -998
SANDBOX_CPU_SHARES = 2
SYSTEMD_PREFIX = "cri-containerd"


def cgroups_path(parent: str, object_id: str, node: NodeOptions) -> str:
    """`<parent>/<id>` for cgroupfs, `<slice>:cri-containerd:<id>` for the systemd driver.

    Without a parent, cgroupfs uses the node's default parent and systemd `system.slice`.
    """
    if node.cgroup_driver == "systemd":
        slice_ = posixpath.basename(parent.rstrip("/")) or "system.slice"
        return f"{slice_}:{SYSTEMD_PREFIX}:{object_id}"
    if not parent:
        return posixpath.join(node.default_cgroup_parent, object_id)
    return posixpath.join(parent, object_id)


def with_cgroups_path(path: str) -> Step:
    def step(spec: Spec) -> None:
        linux(spec)["cgroupsPath"] = path

    return step


def linux_resources(res: LinuxResources, node: NodeOptions) -> dict[str, Any]:
    """The OCI `linux.resources` fields a CRI LinuxContainerResources sets (zero = unset)."""
    out: dict[str, Any] = {}
    cpu: dict[str, Any] = {}
    if res.cpu_period:
        cpu["period"] = res.cpu_period
    if res.cpu_quota:
        cpu["quota"] = res.cpu_quota
    if res.cpu_shares:
        cpu["shares"] = res.cpu_shares
    if res.cpuset_cpus:
        cpu["cpus"] = res.cpuset_cpus
    if res.cpuset_mems:
        cpu["mems"] = res.cpuset_mems
    if cpu:
        out["cpu"] = cpu
    memory: dict[str, Any] = {}
    if res.memory_limit_in_bytes:
        memory["limit"] = res.memory_limit_in_bytes
        if node.swap_controller and not res.memory_swap_limit_in_bytes:
            # memory+swap equal to memory: no swap unless the pod asks for it
            memory["swap"] = res.memory_limit_in_bytes
    if res.memory_swap_limit_in_bytes and node.swap_controller:
        memory["swap"] = res.memory_swap_limit_in_bytes
    if memory:
        out["memory"] = memory
    if res.hugepage_limits and node.hugetlb_controller:
        out["hugepageLimits"] = [
            {"pageSize": h.page_size, "limit": h.limit} for h in res.hugepage_limits
        ]
    if res.unified:
        out["unified"] = dict(res.unified)
    return out


def with_resources(res: LinuxResources | None, node: NodeOptions) -> Step:
    """Merge the CRI resources into `linux.resources` (device rules are kept)."""
    fields = linux_resources(res, node) if res is not None else {}

    def step(spec: Spec) -> None:
        merge_resources(resources(spec), fields)

    return step


def updated_resources(
    current: LinuxResources | None, update: LinuxResources, node: NodeOptions
) -> dict[str, Any]:
    """A container's limits after UpdateContainerResources, as OCI `linux.resources` objects:
    its `current` ones with the fields `update` sets over them (a CPU update keeps the quota
    it does not name), for the runtime to apply as they are."""
    merged = linux_resources(current, node) if current is not None else {}
    merge_resources(merged, linux_resources(update, node))
    return merged


def merge_resources(target: dict[str, Any], fields: Mapping[str, Any]) -> None:
    """Merge OCI `linux.resources` fields into `target`: objects field by field (a CPU update
    keeps the quota it does not name), anything else replaced."""
    for key, value in fields.items():
        if isinstance(value, dict):
            target.setdefault(key, {}).update(value)
        else:
            target[key] = value


def with_sandbox_cpu_shares(spec: Spec) -> None:
    """The pause process needs next to no CPU: shares 2 (containerd's default)."""
    resources(spec).setdefault("cpu", {})["shares"] = SANDBOX_CPU_SHARES


def clamp_oom_score_adj(requested: int, minimum: int | None) -> int:
    """containerd's restrict_oom_score_adj: no lower than what this process may set."""
    return requested if minimum is None else max(requested, minimum)


def with_oom_score_adj(score: int, node: NodeOptions) -> Step:
    adj = clamp_oom_score_adj(score, node.min_oom_score_adj)

    def step(spec: Spec) -> None:
        process(spec)["oomScoreAdj"] = adj

    return step


def with_sysctls(sysctls: Mapping[str, str]) -> Step:
    """`linux.sysctl`, merged over what the spec holds."""
    values = dict(sysctls)

    def step(spec: Spec) -> None:
        if values:
            linux(spec).setdefault("sysctl", {}).update(values)

    return step
