"""The process lifecycle: recover, serve the CRI socket, shut down gracefully on a signal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from adapters.cri.server import start_server, stop_server
from adapters.streaming.server import StreamingServer
from app import metrics, systemd
from app.container import Application
from app.info import cri_config
from app.settings import Settings
from domain.errors import Unavailable
from domain.services.context import Context
from domain.services.exits import watch_runtime_events
from domain.services.recovery import recover

log = logging.getLogger("hexcri")
GRACE_SECONDS = 10.0
RETRY_SECONDS = 2.0


async def _recovered(ctx: Context, stopping: asyncio.Event) -> bool:
    """Recover, waiting for the runtime while it is down; False when told to stop first.

    The socket opens only after recovery: an empty answer before it would make kubelet
    believe every pod is gone.
    """
    while not stopping.is_set():
        attempt = asyncio.create_task(recover(ctx))
        stop = asyncio.create_task(stopping.wait())
        await asyncio.wait({attempt, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not attempt.done():
            attempt.cancel()
            break
        try:
            attempt.result()
            return True
        except Unavailable as exc:
            log.warning("waiting for the runtime before serving: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), RETRY_SECONDS)
    return False


async def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT: stop accepting, finish in-flight calls, remove the socket."""
    app = Application(settings=settings)
    ctx = app.context()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    exporter = metrics.start(settings.metrics_address, ctx) if settings.metrics_address else None
    if exporter is not None:
        log.info("metrics on http://%s/metrics", exporter.address)
    watcher = asyncio.create_task(watch_runtime_events(ctx), name="runtime-events")
    if await _recovered(ctx, stopping):
        streaming = StreamingServer(ctx, settings.streaming_address, app.backend().dialer)
        await streaming.start()
        config = cri_config(settings, streaming.base_url, ctx.settings.node)
        server = await start_server(ctx, settings.socket, streaming, config)
        log.info("hexcri %s serving CRI on %s (%s backend), streaming on %s",
                 ctx.settings.runtime_version, settings.socket, settings.backend,
                 streaming.base_url)  # fmt: skip
        systemd.notify("READY=1")
        await stopping.wait()
        log.info("shutting down")
        systemd.notify("STOPPING=1")
        await stop_server(server, GRACE_SECONDS)
        await streaming.stop()
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    await app.backend().close()
    if exporter is not None:
        exporter.stop()
