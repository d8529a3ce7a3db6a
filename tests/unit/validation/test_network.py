"""DNS servers, searches and options; port mapping host IPs."""

import pytest

from domain.errors import InvalidArgument
from domain.model import DNSConfig, PortMapping
from domain.validation.network import check_dns, check_port_mappings


@pytest.mark.parametrize(
    ("dns", "field"),
    [
        (DNSConfig(servers=("8.8.8.8\nnameserver 6.6.6.6",)), "servers"),
        (DNSConfig(servers=("dns.example.com",)), "servers"),
        (DNSConfig(searches=("a\nb",)), "searches"),
        (DNSConfig(searches=("a b",)), "searches"),
        (DNSConfig(options=("ndots:5\x00",)), "options"),
    ],
)
def test_bad_dns_is_refused(dns: DNSConfig, field: str) -> None:
    with pytest.raises(InvalidArgument, match=rf"^dns_config\.{field}\[0\] "):
        check_dns("dns_config", dns)


def test_good_dns() -> None:
    check_dns("d", None)
    check_dns(
        "d",
        DNSConfig(servers=("10.0.0.10", "fd00::a"), searches=("svc.local",), options=("ndots:5",)),
    )


def test_port_mapping_host_ip() -> None:
    check_port_mappings("p", (PortMapping(host_ip="127.0.0.1"), PortMapping()))
    with pytest.raises(InvalidArgument, match=r"p\[0\]\.host_ip"):
        check_port_mappings("p", (PortMapping(host_ip="localhost"),))
