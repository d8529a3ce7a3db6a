"""What one invocation of the chain is given: CNI_ARGS, capability args, per-plugin stdin."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from adapters.cni.config import NetworkConfigList
from domain.errors import InvalidArgument
from ports.network import PodNetworkRequest

DEFAULT_IFNAME = "eth0"
INGRESS_ANNOTATION = "kubernetes.io/ingress-bandwidth"
EGRESS_ANNOTATION = "kubernetes.io/egress-bandwidth"
# containerd sets the burst to the largest value the bandwidth plugin accepts.
MAX_BURST = 2**32 - 1


@dataclass(frozen=True)
class RuntimeConf:
    """libcni's RuntimeConf: everything but the network config."""

    container_id: str
    netns: str
    ifname: str = DEFAULT_IFNAME
    args: tuple[tuple[str, str], ...] = ()
    capability_args: dict[str, Any] = field(default_factory=dict)

    def env(self, command: str, path: str) -> dict[str, str]:
        return {
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": self.container_id,
            "CNI_NETNS": self.netns,
            "CNI_IFNAME": self.ifname,
            "CNI_ARGS": cni_args_string(self.args),
            "CNI_PATH": path,
        }


def pod_args(request: PodNetworkRequest) -> tuple[tuple[str, str], ...]:
    """The CNI_ARGS pairs kubelet's runtimes pass for a pod."""
    return (
        ("IgnoreUnknown", "1"),
        ("K8S_POD_NAMESPACE", request.pod_namespace),
        ("K8S_POD_NAME", request.pod_name),
        ("K8S_POD_INFRA_CONTAINER_ID", request.sandbox_id),
        ("K8S_POD_UID", request.pod_uid),
    )


def cni_args_string(args: tuple[tuple[str, str], ...]) -> str:
    return ";".join(f"{k}={v}" for k, v in args)


def capability_args(request: PodNetworkRequest, pod_cidr: str = "") -> dict[str, Any]:
    """The capability args of a pod; plugins receive those they declare in `capabilities`."""
    caps: dict[str, Any] = {}
    ports = [
        {
            "hostPort": p.host_port,
            "containerPort": p.container_port,
            "protocol": p.protocol.value.lower(),
            "hostIP": p.host_ip,
        }
        for p in request.port_mappings
        if p.host_port > 0
    ]
    if ports:
        caps["portMappings"] = ports
    bandwidth = _bandwidth(request.annotations)
    if bandwidth:
        caps["bandwidth"] = bandwidth
    if pod_cidr:
        caps["ipRanges"] = [[{"subnet": pod_cidr}]]
    if request.dns is not None:
        caps["dns"] = {
            "servers": list(request.dns.servers),
            "searches": list(request.dns.searches),
            "options": list(request.dns.options),
        }
    return caps


def _bandwidth(annotations: dict[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for annotation, key in ((INGRESS_ANNOTATION, "ingress"), (EGRESS_ANNOTATION, "egress")):
        value = annotations.get(annotation)
        if value:
            out[f"{key}Rate"] = parse_quantity(value)
            out[f"{key}Burst"] = MAX_BURST
    return out


_SUFFIXES = {
    "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}  # fmt: skip
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([kMGTPE]i?|)$")


def parse_quantity(text: str) -> int:
    """A Kubernetes resource quantity (`10M`, `1Gi`, `500k`) as an integer (bits/s here)."""
    m = _QUANTITY.match(text.strip())
    if not m:
        raise InvalidArgument(f"invalid bandwidth quantity {text!r}")
    return int(float(m.group(1)) * _SUFFIXES[m.group(2)])


def plugin_config(
    network: NetworkConfigList,
    plugin: dict[str, Any],
    capability_args: dict[str, Any],
    prev_result: dict[str, Any] | None,
) -> dict[str, Any]:
    """One plugin's stdin: its config with name, cniVersion, prevResult and runtimeConfig."""
    conf = copy.deepcopy(plugin)
    conf["name"] = network.name
    conf["cniVersion"] = network.cni_version
    if prev_result is not None:
        conf["prevResult"] = prev_result
    else:
        conf.pop("prevResult", None)
    declared = plugin.get("capabilities") or {}
    runtime = {cap: value for cap, value in capability_args.items() if declared.get(cap) is True}
    if runtime:
        conf["runtimeConfig"] = runtime
    return conf
