"""The process lifecycle: restore, serve the CRI socket, shut down gracefully on a signal."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import signal

from adapters.cri.server import start_server, stop_server
from adapters.streaming.server import StreamingServer
from app import metrics, static_pods, systemd
from app.container import Application
from app.info import cri_config
from app.settings import Settings
from domain.services.usecases import UseCases

log = logging.getLogger("hexcri")
GRACE_SECONDS = 10.0
MALLOC_ARENAS = 2  # glibc's M_ARENA_MAX: its default is 8 per core


def fewer_malloc_arenas() -> None:
    """Cap glibc's malloc arenas before the worker threads start: each thread that allocates
    gets an arena of its own by default, and each arena keeps what was freed resident."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(-8, MALLOC_ARENAS)  # -8: M_ARENA_MAX


async def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT: stop accepting, finish in-flight calls, remove the socket.

    The socket opens once the record is restored (an empty answer before it would make
    kubelet believe every pod is gone); the runtime is matched with it in the background.
    """
    fewer_malloc_arenas()
    app = Application(settings=settings)
    uses: UseCases = app.domain.use_cases()
    domain_settings = app.domain_settings()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    exporter = metrics.start(settings.metrics_address, uses) if settings.metrics_address else None
    if exporter is not None:
        log.info("metrics on http://%s/metrics", exporter.address)
    reconciler = uses.recovery.reconciler()
    await reconciler.restore()
    watcher = asyncio.create_task(uses.task_exits.watch_runtime_events(), name="runtime-events")
    reconciling = asyncio.create_task(reconciler.run(), name="reconciler")
    # what the backend checks once (the image filesystem) must not hold up the socket
    checking = asyncio.create_task(app.backend().start(), name="backend-start")
    streaming = StreamingServer(
        uses.container_stream, settings.streaming_address, app.backend().dialer
    )
    await streaming.start()
    config = cri_config(settings, streaming.base_url, domain_settings.node)
    server = await start_server(uses, settings.socket, streaming, config)
    log.info("hexcri %s serving CRI on %s (%s backend), streaming on %s",
             domain_settings.runtime_version, settings.socket, settings.backend,
             streaming.base_url)  # fmt: skip
    systemd.notify("READY=1")
    static = static_pods.start(uses, settings)
    await stopping.wait()
    log.info("shutting down")
    systemd.notify("STOPPING=1")
    await static_pods.stop(static)
    await stop_server(server, GRACE_SECONDS)
    await streaming.stop()
    # what is left, recovery removes at start
    await uses.container_remove.wait_clean_ups(GRACE_SECONDS)
    for task in (checking, reconciling, watcher):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await app.backend().close()
    if exporter is not None:
        exporter.stop()
