"""Version, Status, UpdateRuntimeConfig and RuntimeConfig."""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass

from domain.errors import InvalidArgument
from domain.model import Condition, Frozen
from domain.services.settings import Settings
from domain.validation.text import quote
from ports.network import NetworkInfo, PodNetwork
from ports.runtime import ContainerRuntime

CRI_API_VERSION = "v1"
# VersionResponse.version: the kubelet runtime API's version, not hexcri's (containerd's
# kubeAPIVersion)
KUBE_API_VERSION = "0.1.0"
READY_WAIT = 0.8  # seconds: kubelet's Status must answer within its own deadline


class VersionInfo(Frozen):
    version: str = KUBE_API_VERSION
    runtime_name: str
    runtime_version: str
    runtime_api_version: str = CRI_API_VERSION


@dataclass(frozen=True)
class StatusReport:
    """Status: the conditions, and for verbose the CNI state."""

    conditions: list[Condition]
    network: NetworkInfo | None


@dataclass(frozen=True)
class RuntimeInfo:
    runtime: ContainerRuntime
    network: PodNetwork
    settings: Settings

    def version(self) -> VersionInfo:
        s = self.settings
        return VersionInfo(runtime_name=s.runtime_name, runtime_version=s.runtime_version)

    async def status(self) -> list[Condition]:
        """RuntimeReady and NetworkReady, as kubelet reads them; within `READY_WAIT` seconds
        whether the runtime answers or not (not ready when it does not answer in time)."""
        try:
            ready = await asyncio.wait_for(self.runtime.ready(), READY_WAIT)
        except TimeoutError:
            ready = False
        runtime = Condition(
            type="RuntimeReady",
            status=ready,
            reason="" if ready else "RuntimeNotReady",
            message="" if ready else "the container runtime does not answer",
        )
        return [runtime, self.network.condition()]

    async def status_report(self, verbose: bool) -> StatusReport:
        """The conditions, with the CNI state when `verbose`."""
        conditions = await self.status()
        return StatusReport(conditions, self.network_info() if verbose else None)

    def network_info(self) -> NetworkInfo:
        """The CNI state for Status verbose: the loaded config and the last load's outcome."""
        return self.network.info()

    def update_runtime_config(self, pod_cidr: str) -> None:
        if pod_cidr:
            try:  # normalised: `10.1.2.3/24` means 10.1.2.0/24
                network = ipaddress.ip_network(pod_cidr, strict=False)
            except ValueError as exc:
                raise InvalidArgument(f"invalid pod CIDR {quote(pod_cidr)}: {exc}") from None
            self.network.update_pod_cidr(str(network))

    def cgroup_driver(self) -> str:
        return self.settings.cgroup_driver
