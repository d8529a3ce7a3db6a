"""Stats arithmetic: cpu rates against the previous sample, and a pod's totals."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

from domain.model import ContainerStats, InterfaceStats

DEFAULT_INTERFACE = "eth0"  # the interface CNI makes in a pod (containerd's defaultIfName)
LOOPBACK = "lo"
NS_PER_S = 1_000_000_000


class CpuRates:
    """The previous cpu sample of each container and pod, as containerd's CRI keeps it, so
    that a sample's `usage_nano_cores` is the rate since the one before."""

    def __init__(self) -> None:
        self._last: dict[Hashable, tuple[int, int]] = {}

    def rate(self, key: Hashable, usage_ns: int, timestamp: int) -> int:
        """Nano-cores used since the previous sample of `key`; 0 for the first one. A sample
        no later than the previous one (or a counter that went back) gives 0."""
        previous = self._last.get(key)
        if previous is not None and timestamp <= previous[1]:
            return 0
        self._last[key] = (usage_ns, timestamp)
        if previous is None or usage_ns < previous[0]:
            return 0
        return (usage_ns - previous[0]) * NS_PER_S // (timestamp - previous[1])

    def rated(self, key: Hashable, stats: ContainerStats) -> ContainerStats:
        """`stats` with its `cpu_usage_nano_cores` from the previous sample of `key`."""
        nano_cores = self.rate(key, stats.cpu_usage_core_ns, stats.timestamp)
        return stats.model_copy(update={"cpu_usage_nano_cores": nano_cores})

    def __contains__(self, key: Hashable) -> bool:
        return key in self._last

    def retain(self, keys: Iterable[Hashable]) -> None:
        """Forget the samples of everything not in `keys` (removed containers and pods)."""
        kept = set(keys)
        for key in [k for k in self._last if k not in kept]:
            del self._last[key]


def pod_usage(sandbox_id: str, timestamp: int, members: Sequence[ContainerStats]) -> ContainerStats:
    """A pod's cpu and memory: the sums over its pause and running containers. The pod has a
    memory limit only when each of them has one."""
    limits = [m.memory_limit_bytes for m in members]
    return ContainerStats(
        container_id=sandbox_id,
        timestamp=timestamp,
        cpu_usage_core_ns=sum(m.cpu_usage_core_ns for m in members),
        memory_working_set_bytes=sum(m.memory_working_set_bytes for m in members),
        memory_usage_bytes=sum(m.memory_usage_bytes for m in members),
        memory_limit_bytes=sum(limits) if limits and all(limits) else 0,
        memory_rss_bytes=sum(m.memory_rss_bytes for m in members),
        memory_page_faults=sum(m.memory_page_faults for m in members),
        memory_major_page_faults=sum(m.memory_major_page_faults for m in members),
    )


def pod_interfaces(interfaces: Iterable[InterfaceStats]) -> tuple[InterfaceStats, ...]:
    """The pod's interfaces as the CRI reports them: the default first, loopback left out."""
    found = [i for i in interfaces if i.name != LOOPBACK]
    return tuple(sorted(found, key=lambda i: (i.name != DEFAULT_INTERFACE, i.name)))
