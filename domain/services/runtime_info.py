"""Version, Status, UpdateRuntimeConfig and RuntimeConfig."""

from __future__ import annotations

import asyncio
import ipaddress

from domain.errors import InvalidArgument
from domain.model import Condition, Frozen
from domain.services.context import Context
from domain.validation.text import quote
from ports.network import NetworkInfo

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


def version(ctx: Context) -> VersionInfo:
    s = ctx.settings
    return VersionInfo(runtime_name=s.runtime_name, runtime_version=s.runtime_version)


async def status(ctx: Context) -> list[Condition]:
    """RuntimeReady and NetworkReady, as kubelet reads them; within `READY_WAIT` seconds
    whether the runtime answers or not (not ready when it does not answer in time)."""
    try:
        ready = await asyncio.wait_for(ctx.ports.runtime.ready(), READY_WAIT)
    except TimeoutError:
        ready = False
    runtime = Condition(
        type="RuntimeReady",
        status=ready,
        reason="" if ready else "RuntimeNotReady",
        message="" if ready else "the container runtime does not answer",
    )
    return [runtime, ctx.ports.network.condition()]


def network_info(ctx: Context) -> NetworkInfo:
    """The CNI state for Status verbose: the loaded config and the last load's outcome."""
    return ctx.ports.network.info()


def update_runtime_config(ctx: Context, pod_cidr: str) -> None:
    if pod_cidr:
        try:  # normalised: `10.1.2.3/24` means 10.1.2.0/24
            network = ipaddress.ip_network(pod_cidr, strict=False)
        except ValueError as exc:
            raise InvalidArgument(f"invalid pod CIDR {quote(pod_cidr)}: {exc}") from None
        ctx.ports.network.update_pod_cidr(str(network))


def cgroup_driver(ctx: Context) -> str:
    return ctx.settings.cgroup_driver
