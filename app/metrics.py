"""The Prometheus endpoint: the edges' metrics, the stores' object counts, the process collector.

The adapters record on the default registry (`hexcri_cri_*`, `hexcri_containerd_*`,
`hexcri_image_pull*`, `hexcri_cni_*`); `StoreCollector` reads the pod sandboxes and containers
by state from the domain's stores at each scrape; prometheus-client's process, platform and
GC collectors come with the default registry.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from domain.model import ContainerState, SandboxState
from domain.services.usecases import UseCases


class StoreCollector(Collector):
    """`hexcri_pod_sandboxes{state}`, `hexcri_containers{state}`, `hexcri_images`."""

    def __init__(self, uses: UseCases) -> None:
        self.uses = uses

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pods = GaugeMetricFamily(
            "hexcri_pod_sandboxes", "Pod sandboxes hexcri holds, by state", labels=["state"]
        )
        by_state = {s: 0 for s in SandboxState if s == s.shown}
        for sandbox in self.uses.sandbox_query.list_pod_sandboxes():
            by_state[sandbox.state.shown] += 1
        for sandbox_state, count in by_state.items():
            pods.add_metric([f"SANDBOX_{sandbox_state.name}"], count)
        yield pods
        containers = GaugeMetricFamily(
            "hexcri_containers", "Containers hexcri holds, by state", labels=["state"]
        )
        counts = {s: 0 for s in ContainerState}
        for container in self.uses.container_query.list_containers():
            counts[container.state] += 1
        for container_state, count in counts.items():
            containers.add_metric([f"CONTAINER_{container_state.name}"], count)
        yield containers
        yield GaugeMetricFamily(
            "hexcri_images",
            "Images in hexcri's index",
            value=len(self.uses.image_query.list_images()),
        )


@dataclass
class MetricsServer:
    """The running endpoint; `stop` ends it and unregisters the store collector."""

    server: WSGIServer
    thread: threading.Thread
    collector: StoreCollector

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else host
        return f"[{name}]:{port}" if ":" in name else f"{name}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        REGISTRY.unregister(self.collector)


def split_address(address: str) -> tuple[str, int]:
    """`host:port` (IPv6 in brackets) as a bind address; ValueError names what is wrong."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"metrics_address {address!r}: expected host:port, e.g. 127.0.0.1:9464")
    return host.strip("[]") or "127.0.0.1", int(port)


def start(address: str, uses: UseCases) -> MetricsServer:
    """Serve /metrics on `address` (port 0: a free one) in a thread."""
    host, port = split_address(address)
    try:
        server, thread = start_http_server(port, host)
    except OSError as exc:
        raise OSError(exc.errno, f"metrics_address {address}: cannot serve there: {exc}") from exc
    collector = StoreCollector(uses)
    try:
        REGISTRY.register(collector)
    except BaseException:
        server.shutdown()
        server.server_close()
        raise
    return MetricsServer(server, thread, collector)
