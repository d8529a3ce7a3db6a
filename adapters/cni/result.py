"""Reading a CNI result (0.3.x, 0.4.0, 1.0.0): the pod's IPs, IPv4 first as kubelet expects."""

from __future__ import annotations

import ipaddress
from typing import Any


def pod_ips(result: dict[str, Any], ifname: str) -> tuple[str, ...]:
    """The addresses of `ifname` in the pod (all addresses when the result names no interface).

    The first IPv4 address is the primary one; IPv6 addresses follow the IPv4 ones, each family
    in the plugin's order.
    """
    interfaces = result.get("interfaces") or []
    ips = result.get("ips") or []
    mine: list[str] = []
    others: list[str] = []
    for entry in ips:
        if not isinstance(entry, dict) or "address" not in entry:
            continue
        address = str(ipaddress.ip_interface(entry["address"]).ip)
        index = entry.get("interface")
        if isinstance(index, int) and 0 <= index < len(interfaces):
            iface = interfaces[index]
            if iface.get("name") == ifname and iface.get("sandbox"):
                mine.append(address)
            continue
        others.append(address)
    chosen = mine or others
    v4 = [ip for ip in chosen if ipaddress.ip_address(ip).version == 4]
    v6 = [ip for ip in chosen if ipaddress.ip_address(ip).version == 6]
    return tuple(v4 + v6)
