"""The pod's hostname, hosts and resolv.conf files."""

from __future__ import annotations

from domain.model import DNSConfig
from domain.spec import NodeOptions, sandbox_dir, sandbox_files
from domain.spec.files import resolv_conf
from tests.unit.spec.builders import NODE, pod_config, sandbox


def test_sandbox_dir() -> None:
    assert sandbox_dir("abc", NodeOptions(sandbox_root="/r/")) == "/r/abc"


def test_files_of_a_pod() -> None:
    dns = DNSConfig(
        servers=("10.0.0.10", "10.0.0.11"), searches=("ns.svc", "svc"), options=("ndots:5",)
    )
    files = sandbox_files(sandbox(pod_config(hostname="web-0", dns_config=dns)))
    assert files["hostname"] == "web-0\n"
    assert files["hosts"].startswith("127.0.0.1\tlocalhost\n::1\tlocalhost")
    assert files["hosts"].endswith("127.0.1.1\tweb-0\n")
    assert files["resolv.conf"] == (
        "search ns.svc svc\nnameserver 10.0.0.10\nnameserver 10.0.0.11\noptions ndots:5\n"
    )


def test_hosts_use_the_pod_ips_when_known() -> None:
    files = sandbox_files(sandbox(pod_config(hostname="web-0"), ips=("10.1.0.5",)))
    assert files["hosts"].endswith("10.1.0.5\tweb-0\n") and "127.0.1.1" not in files["hosts"]


def test_no_dns_config_no_resolv_conf() -> None:
    assert "resolv.conf" not in sandbox_files(sandbox(pod_config(hostname="a")))
    assert "resolv.conf" not in sandbox_files(sandbox(pod_config(dns_config=DNSConfig())))
    assert resolv_conf(None) == ""


def test_host_network_pods_use_the_node_hostname() -> None:
    files = sandbox_files(sandbox(pod_config(host_network=True, hostname="ignored")), NODE)
    assert files["hostname"] == "node1\n"
