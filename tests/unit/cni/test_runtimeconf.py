"""CNI_ARGS, capability args and the per-plugin stdin."""

from __future__ import annotations

import pytest

from adapters.cni.config import parse
from adapters.cni.runtimeconf import (
    MAX_BURST,
    RuntimeConf,
    capability_args,
    cni_args_string,
    parse_quantity,
    plugin_config,
    pod_args,
)
from domain.errors import InvalidArgument
from domain.model import DNSConfig, PortMapping, Protocol
from ports.network import PodNetworkRequest

ID = "f" * 64


def request(**kw: object) -> PodNetworkRequest:
    fields: dict[str, object] = {
        "sandbox_id": ID,
        "netns_path": "/var/run/netns/hexcri-x",
        "pod_name": "web",
        "pod_namespace": "default",
        "pod_uid": "uid-1",
    }
    fields.update(kw)
    return PodNetworkRequest(**fields)  # type: ignore[arg-type]


def test_cni_args_carry_the_pod_identity() -> None:
    assert cni_args_string(pod_args(request())) == (
        f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;"
        f"K8S_POD_INFRA_CONTAINER_ID={ID};K8S_POD_UID=uid-1"
    )


def test_environment_of_an_invocation() -> None:
    rt = RuntimeConf(container_id=ID, netns="/ns", args=pod_args(request()))
    env = rt.env("ADD", "/opt/cni/bin:/usr/lib/cni")
    assert env["CNI_COMMAND"] == "ADD"
    assert env["CNI_CONTAINERID"] == ID
    assert env["CNI_NETNS"] == "/ns"
    assert env["CNI_IFNAME"] == "eth0"
    assert env["CNI_PATH"] == "/opt/cni/bin:/usr/lib/cni"
    assert env["CNI_ARGS"].startswith("IgnoreUnknown=1;")


def test_port_mappings_become_portmap_entries() -> None:
    caps = capability_args(
        request(
            port_mappings=(
                PortMapping(protocol=Protocol.UDP, container_port=53, host_port=5353),
                PortMapping(container_port=80, host_port=8080, host_ip="127.0.0.1"),
                PortMapping(container_port=9000),  # no host port: not mapped
            )
        )
    )
    assert caps == {
        "portMappings": [
            {"hostPort": 5353, "containerPort": 53, "protocol": "udp", "hostIP": ""},
            {"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": "127.0.0.1"},
        ]
    }


def test_dns_pod_cidr_and_bandwidth() -> None:
    caps = capability_args(
        request(
            dns=DNSConfig(servers=("10.0.0.10",), searches=("svc.local",), options=("ndots:5",)),
            annotations={
                "kubernetes.io/ingress-bandwidth": "10M",
                "kubernetes.io/egress-bandwidth": "1Mi",
            },
        ),
        pod_cidr="10.244.1.0/24",
    )
    assert caps["dns"] == {
        "servers": ["10.0.0.10"],
        "searches": ["svc.local"],
        "options": ["ndots:5"],
    }
    assert caps["ipRanges"] == [[{"subnet": "10.244.1.0/24"}]]
    assert caps["bandwidth"] == {
        "ingressRate": 10_000_000,
        "ingressBurst": MAX_BURST,
        "egressRate": 1 << 20,
        "egressBurst": MAX_BURST,
    }


def test_nothing_to_pass_gives_no_capability_args() -> None:
    assert capability_args(request()) == {}


@pytest.mark.parametrize(
    ("text", "value"), [("100", 100), ("1k", 1000), ("2.5M", 2_500_000), ("1Gi", 1 << 30)]
)
def test_quantities(text: str, value: int) -> None:
    assert parse_quantity(text) == value


def test_bad_quantity_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument):
        parse_quantity("fast")


def test_plugin_config_injects_name_version_prev_result_and_declared_capabilities() -> None:
    network = parse(
        b'{"cniVersion": "0.4.0", "name": "net", "plugins": ['
        b'{"type": "bridge"},'
        b'{"type": "portmap", "capabilities": {"portMappings": true, "dns": false}}]}'
    )
    caps = {"portMappings": [{"hostPort": 1}], "dns": {"servers": []}}
    first = plugin_config(network, network.plugins[0], caps, None)
    assert first == {"type": "bridge", "name": "net", "cniVersion": "0.4.0"}
    prev = {"cniVersion": "0.4.0", "ips": []}
    second = plugin_config(network, network.plugins[1], caps, prev)
    assert second["prevResult"] == prev
    assert second["runtimeConfig"] == {"portMappings": [{"hostPort": 1}]}
    assert "runtimeConfig" not in network.plugins[1]  # the loaded config is not modified
