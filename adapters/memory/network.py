"""Network namespaces and a CNI chain in memory: IPs allocated from a CIDR."""

from __future__ import annotations

import ipaddress

from domain.errors import FailedPrecondition, Internal
from domain.model import Condition, NetworkResult
from ports.network import NetworkInfo, PodNetworkRequest


class MemoryNamespaces:
    """Implements NetworkNamespaces: namespaces are names in a set, one per sandbox ID."""

    def __init__(self, root: str = "/run/hexcri-memory/netns") -> None:
        self._root = root
        self.paths: set[str] = set()

    async def create(self, sandbox_id: str) -> str:
        path = f"{self._root}/hexcri-{sandbox_id}"
        if path in self.paths:
            raise Internal(f"network namespace {path} already exists")
        self.paths.add(path)
        return path

    async def remove(self, path: str) -> None:
        self.paths.discard(path)

    async def list(self) -> list[str]:
        return sorted(self.paths)


class MemoryNetwork:
    """Implements PodNetwork: one IPv4 per pod from the pod CIDR, released on teardown."""

    def __init__(self, cidr: str = "10.88.0.0/16", ready: bool = True) -> None:
        self._network = ipaddress.ip_network(cidr)
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
                return NetworkResult(ips=(ip,))
        # a plugin failure, as host-local's, not a state of the node
        raise Internal(f"no IP addresses available in range set: {self._network}")

    async def teardown(self, request: PodNetworkRequest) -> None:
        self.allocations.pop(request.sandbox_id, None)
        self.requests.pop(request.sandbox_id, None)

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
