"""Node facts the conversion needs, read from the host: memory capacity, resolv.conf."""

from __future__ import annotations

from domain.model import DNSConfig


def memory_capacity(meminfo: str = "/proc/meminfo") -> int:
    """MemTotal in bytes (0 when unknown)."""
    try:
        with open(meminfo) as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def host_dns(path: str = "/etc/resolv.conf") -> DNSConfig:
    """The node's resolv.conf, which kubelet gives pods of dnsPolicy Default."""
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return DNSConfig()
    for line in lines:
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "nameserver" and len(words) > 1:
            servers.append(words[1])
        elif words[0] in ("search", "domain"):
            searches = words[1:]
        elif words[0] == "options":
            options.extend(words[1:])
    return DNSConfig(servers=tuple(servers), searches=tuple(searches), options=tuple(options))
