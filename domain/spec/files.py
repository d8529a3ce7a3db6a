"""The pod's /etc/hostname, /etc/hosts and /etc/resolv.conf contents."""

from __future__ import annotations

from domain.model import DNSConfig, Sandbox
from domain.spec.node import HOSTNAME_FILE, HOSTS_FILE, RESOLV_FILE, NodeOptions

LOCALHOST_ENTRIES = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)
# Debian's convention for the machine's own name when its address is not known yet.
SELF_ADDRESS = "127.0.1.1"


def pod_hostname(sandbox: Sandbox, node: NodeOptions | None = None) -> str:
    """The pod's hostname: its own, or the node's for host-network pods (and when unset)."""
    own = "" if sandbox.config.host_network else sandbox.config.hostname
    return own or (node.hostname if node is not None else "") or sandbox.config.hostname


def resolv_conf(dns: DNSConfig | None) -> str:
    """resolv.conf from the pod's DNSConfig (containerd's order: search, nameservers,
    options); empty when the config says nothing."""
    if dns is None:
        return ""
    lines = []
    if dns.searches:
        lines.append("search " + " ".join(dns.searches))
    lines += [f"nameserver {server}" for server in dns.servers]
    if dns.options:
        lines.append("options " + " ".join(dns.options))
    return "".join(f"{line}\n" for line in lines)


def hosts(hostname: str, ips: tuple[str, ...] = ()) -> str:
    """Localhost entries and the pod's own name, on its IPs when known."""
    if not hostname:
        return LOCALHOST_ENTRIES
    own = "".join(f"{ip}\t{hostname}\n" for ip in ips) or f"{SELF_ADDRESS}\t{hostname}\n"
    return LOCALHOST_ENTRIES + own


def sandbox_files(sandbox: Sandbox, node: NodeOptions | None = None) -> dict[str, str]:
    """File name -> content of the pod's `hostname`, `hosts` and (given a DNS config)
    `resolv.conf`; without one the pod keeps the image's, or the host's for host network."""
    name = pod_hostname(sandbox, node)
    files = {HOSTNAME_FILE: f"{name}\n" if name else "", HOSTS_FILE: hosts(name, sandbox.ips)}
    resolv = resolv_conf(sandbox.config.dns_config)
    if resolv:
        files[RESOLV_FILE] = resolv
    return files
