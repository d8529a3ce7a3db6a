"""The pod's IPs from a CNI result."""

from __future__ import annotations

from adapters.cni.result import pod_ips


def test_ipv4_first_then_ipv6_of_the_pod_interface() -> None:
    result = {
        "cniVersion": "1.0.0",
        "interfaces": [
            {"name": "cni0"},
            {"name": "veth1"},
            {"name": "eth0", "sandbox": "/var/run/netns/x"},
        ],
        "ips": [
            {"address": "fd00::5/64", "interface": 2},
            {"address": "10.1.0.5/24", "interface": 2, "gateway": "10.1.0.1"},
            {"address": "10.1.0.1/24", "interface": 0},  # the host side is not the pod's
            {"address": "10.2.0.5/24", "interface": 2},
        ],
    }
    assert pod_ips(result, "eth0") == ("10.1.0.5", "10.2.0.5", "fd00::5")


def test_v0_4_result_with_version_fields() -> None:
    result = {
        "cniVersion": "0.4.0",
        "interfaces": [{"name": "eth0", "sandbox": "/ns"}],
        "ips": [{"version": "4", "address": "192.168.1.9/24", "interface": 0}],
    }
    assert pod_ips(result, "eth0") == ("192.168.1.9",)


def test_addresses_without_interface_reference() -> None:
    result = {"ips": [{"address": "fd00::9/64"}, {"address": "10.9.9.9/16"}]}
    assert pod_ips(result, "eth0") == ("10.9.9.9", "fd00::9")


def test_empty_result() -> None:
    assert pod_ips({"cniVersion": "1.0.0"}, "eth0") == ()
