"""Network namespaces and a CNI chain in memory: IPs allocated from a CIDR."""

from __future__ import annotations

import builtins
import ipaddress
from dataclasses import dataclass

from domain.errors import FailedPrecondition, Internal, NotFound
from domain.model import Condition, InterfaceStats, NetworkResult
from ports.network import NetworkInfo, PodNetworkRequest

# what one read of a pod's `eth0` finds newly passed (simulated traffic: ARP, probes)
TRAFFIC_PER_READ = 98


@dataclass
class _Link:
    rx_bytes: int = 0
    tx_bytes: int = 0


class MemoryNamespaces:
    """Implements NetworkNamespaces: namespaces are names, each with its links by name
    (`lo` from the start; the pod network adds `eth0`). A pod's `eth0` sees simulated
    traffic: each read finds its counters grown."""

    def __init__(self, root: str = "/run/hexcri-memory/netns") -> None:
        self._root = root
        self.links: dict[str, dict[str, _Link]] = {}

    @property
    def paths(self) -> set[str]:
        return set(self.links)

    async def create(self, sandbox_id: str) -> str:
        path = f"{self._root}/hexcri-{sandbox_id}"
        if path in self.links:
            raise Internal(f"network namespace {path} already exists")
        self.links[path] = {"lo": _Link()}
        return path

    async def remove(self, path: str) -> None:
        self.links.pop(path, None)

    async def list(self) -> list[str]:
        return sorted(self.links)

    async def interface_stats(self, path: str) -> builtins.list[InterfaceStats]:
        links = self.links.get(path)
        if links is None:
            raise NotFound(f"no network namespace at {path}")
        for name, link in links.items():
            if name != "lo":
                link.rx_bytes += TRAFFIC_PER_READ
                link.tx_bytes += TRAFFIC_PER_READ
        return [
            InterfaceStats(name=name, rx_bytes=link.rx_bytes, tx_bytes=link.tx_bytes)
            for name, link in links.items()
        ]

    def plug(self, path: str, name: str) -> None:
        """Add the interface `name` to the namespace at `path` (what a CNI ADD does)."""
        if path in self.links:
            self.links[path].setdefault(name, _Link())

    def unplug(self, path: str, name: str) -> None:
        self.links.get(path, {}).pop(name, None)


class MemoryNetwork:
    """Implements PodNetwork: one IPv4 per pod from the pod CIDR, released on teardown."""

    def __init__(
        self,
        cidr: str = "10.88.0.0/16",
        ready: bool = True,
        namespaces: MemoryNamespaces | None = None,
    ) -> None:
        self._network = ipaddress.ip_network(cidr)
        self._namespaces = namespaces  # where ADD plugs the pod's `eth0`, when given
        self.ready = ready
        self.allocations: dict[str, str] = {}
        self.requests: dict[str, PodNetworkRequest] = {}

    async def setup(self, request: PodNetworkRequest) -> NetworkResult:
        if not self.ready:
            raise FailedPrecondition("network plugin is not ready: no CNI configuration")
        taken = set(self.allocations.values())
        for host in self._network.hosts():
            ip = str(host)
            if ip not in taken and host != next(self._network.hosts()):  # .1 is the gateway
                self.allocations[request.sandbox_id] = ip
                self.requests[request.sandbox_id] = request
                if self._namespaces is not None:
                    self._namespaces.plug(request.netns_path, "eth0")
                return NetworkResult(ips=(ip,))
        # a plugin failure, as host-local's, not a state of the node
        raise Internal(f"no IP addresses available in range set: {self._network}")

    async def teardown(self, request: PodNetworkRequest) -> None:
        self.allocations.pop(request.sandbox_id, None)
        self.requests.pop(request.sandbox_id, None)
        if self._namespaces is not None:
            self._namespaces.unplug(request.netns_path, "eth0")

    async def owned(self) -> list[str]:
        return list(self.allocations)

    def condition(self) -> Condition:
        if self.ready:
            return Condition(type="NetworkReady", status=True)
        return Condition(
            type="NetworkReady",
            status=False,
            reason="NetworkPluginNotReady",
            message="Network plugin returns error: cni plugin not initialized",
        )

    def info(self) -> NetworkInfo:
        if not self.ready:
            return NetworkInfo(last_load_status="cni config load failed: no network config found")
        plugin = {"type": "memory", "subnet": str(self._network)}
        return NetworkInfo(
            config={
                "Prefix": "eth",
                "Networks": [
                    {
                        "Config": {"Name": "memory", "Plugins": [{"Network": plugin}]},
                        "IFName": "eth0",
                    }
                ],
            }
        )

    def update_pod_cidr(self, cidr: str) -> None:
        self._network = ipaddress.ip_network(cidr)
