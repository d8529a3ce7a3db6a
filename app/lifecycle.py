"""The process lifecycle: recover, serve the CRI socket, shut down gracefully on a signal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from adapters.cri.server import start_server, stop_server
from app.container import Application
from app.settings import Settings
from domain.services.exits import watch_runtime_events
from domain.services.recovery import recover

log = logging.getLogger("hexcri")
GRACE_SECONDS = 10.0


async def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT: stop accepting, finish in-flight calls, remove the socket."""
    app = Application(settings=settings)
    ctx = app.context()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    watcher = asyncio.create_task(watch_runtime_events(ctx), name="runtime-events")
    await recover(ctx)
    server = await start_server(ctx, settings.socket)
    log.info("hexcri %s serving CRI on %s (%s backend)", ctx.settings.runtime_version,
             settings.socket, settings.backend)  # fmt: skip
    await stopping.wait()
    log.info("shutting down")
    await stop_server(server, GRACE_SECONDS)
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    await app.backend().close()
