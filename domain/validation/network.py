"""A pod's DNS config and port mappings: IP addresses, no control characters."""

from __future__ import annotations

import ipaddress

from domain.model import DNSConfig, PortMapping
from domain.validation.text import check_plain, invalid

DNS_NAME_LIMIT = 253
MAX_SEARCHES = 32  # kubelet's MaxDNSSearchPaths
MAX_SERVERS = 3  # resolv.conf's MAXNS


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def check_dns(field: str, dns: DNSConfig | None) -> None:
    """Servers are IP addresses; searches and options one word each, no control characters."""
    if dns is None:
        return
    for i, server in enumerate(dns.servers):
        if not _is_ip(server):
            raise invalid(f"{field}.servers[{i}]", server, "must be an IP address")
    if len(dns.searches) > MAX_SEARCHES:
        raise invalid(f"{field}.searches", len(dns.searches), f"must be at most {MAX_SEARCHES}")
    for kind, values in (("searches", dns.searches), ("options", dns.options)):
        for i, value in enumerate(values):
            check_plain(f"{field}.{kind}[{i}]", value, DNS_NAME_LIMIT)
            if not value or " " in value:
                raise invalid(f"{field}.{kind}[{i}]", value, "must be one non-empty word")


def check_port_mappings(field: str, ports: tuple[PortMapping, ...]) -> None:
    for i, port in enumerate(ports):
        if port.host_ip and not _is_ip(port.host_ip):
            raise invalid(f"{field}[{i}].host_ip", port.host_ip, "must be an IP address")
