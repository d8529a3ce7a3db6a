"""What `hexcri serve` serves, as resources of the application container: the CRI socket, the
streaming server (Exec, Attach, PortForward) and the Prometheus endpoint. Each starts when
the container first provides it and stops at `shutdown_resources`, after what uses it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc

from adapters.cri.server import start_server, stop_server
from adapters.streaming.server import StreamingServer
from app import metrics
from domain.services.usecases import UseCases
from ports.streams import PodDialer

log = logging.getLogger("hexcri")
GRACE_SECONDS = 10.0  # for the calls in flight at shutdown, and for the clean-ups left


async def cri_server(
    uses: UseCases, socket: str, streaming: StreamingServer, config: dict[str, Any]
) -> AsyncIterator[grpc.aio.Server]:
    """RuntimeService and ImageService on `socket`; at shutdown the calls in flight get
    `GRACE_SECONDS` to finish, and the socket file is removed."""
    server = await start_server(uses, socket, streaming, config)
    yield server
    await stop_server(server, GRACE_SECONDS)


async def streaming_server(
    uses: UseCases, address: str, dialer: PodDialer
) -> AsyncIterator[StreamingServer]:
    """The HTTP server of the URLs Exec, Attach and PortForward hand out."""
    server = StreamingServer(uses.container_stream, address, dialer)
    await server.start()
    yield server
    await server.stop()


async def metrics_endpoint(
    address: str, uses: UseCases
) -> AsyncIterator[metrics.MetricsServer | None]:
    """Prometheus /metrics on `address` in a thread, or None when `address` is ""."""
    if not address:
        yield None
        return
    exporter = metrics.start(address, uses)
    log.info("metrics on http://%s/metrics", exporter.address)
    yield exporter
    await asyncio.to_thread(exporter.stop)  # joins its thread: not on the event loop
