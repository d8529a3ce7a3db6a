"""Pod networking: network namespaces and the CNI chain."""

from __future__ import annotations

import builtins
from typing import Any, Protocol

from pydantic import Field

from domain.model import (
    Condition,
    DNSConfig,
    Frozen,
    InterfaceStats,
    NetworkResult,
    PortMapping,
)


class PodNetworkRequest(Frozen):
    sandbox_id: str
    netns_path: str
    pod_name: str
    pod_namespace: str
    pod_uid: str
    port_mappings: tuple[PortMapping, ...] = ()
    dns: DNSConfig | None = None
    annotations: dict[str, str] = Field(default_factory=dict)


class NetworkInfo(Frozen):
    """What the network has loaded, as containerd's CRI shows it in `crictl info`."""

    config: dict[str, Any] = Field(default_factory=dict)  # `cniconfig`, go-cni's field names
    last_load_status: str = "OK"  # `lastCNILoadStatus`: OK, or why no config is loaded


class NetworkNamespaces(Protocol):
    async def create(self, sandbox_id: str) -> str:
        """Create a named, pinned network namespace with `lo` up; returns its path."""
        ...

    async def remove(self, path: str) -> None:
        """Unpin and delete it. Idempotent."""
        ...

    async def list(self) -> list[str]:
        """Paths of every namespace hexcri owns."""
        ...

    async def interface_stats(self, path: str) -> builtins.list[InterfaceStats]:
        """The counters of every interface in the namespace at `path` (loopback too).
        NotFound when there is no namespace there."""
        ...


class PodNetwork(Protocol):
    async def setup(self, request: PodNetworkRequest) -> NetworkResult:
        """Run the chain's ADD; on failure nothing stays allocated."""
        ...

    async def teardown(self, request: PodNetworkRequest) -> None:
        """Run the chain's DEL, even when the namespace is gone. Idempotent."""
        ...

    async def owned(self) -> list[str]:
        """Sandbox IDs the network holds state (cached results) for, for recovery."""
        ...

    def condition(self) -> Condition:
        """The `NetworkReady` condition."""
        ...

    def info(self) -> NetworkInfo:
        """The loaded network configuration and the last load's outcome."""
        ...

    def update_pod_cidr(self, cidr: str) -> None: ...
