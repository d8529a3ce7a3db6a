"""The process lifecycle: restore, serve the CRI socket, shut down gracefully on a signal."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import signal

from app import static_pods, systemd
from app.container import Application, close_resources, open_resources
from app.settings import Settings
from domain.services.usecases import UseCases

log = logging.getLogger("hexcri")
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
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    backend = app.backend()
    await open_resources(backend)  # its clients and files; its checks start in the background
    uses: UseCases = await app.use_cases.async_()
    domain_settings = app.domain_settings()
    await app.metrics.async_()
    reconciler = uses.recovery.reconciler()
    await reconciler.restore()
    watcher = asyncio.create_task(uses.task_exits.watch_runtime_events(), name="runtime-events")
    reconciling = asyncio.create_task(reconciler.run(), name="reconciler")
    await app.cri.async_()  # and the streaming server it hands out URLs of
    streaming = await app.streaming.async_()
    log.info("hexcri %s serving CRI on %s (%s backend), streaming on %s",
             domain_settings.runtime_version, settings.socket, settings.backend,
             streaming.base_url)  # fmt: skip
    systemd.notify("READY=1")
    static = static_pods.start(uses, settings)
    await stopping.wait()
    log.info("shutting down")
    systemd.notify("STOPPING=1")
    await static_pods.stop(static)
    # the CRI server (calls in flight finish), the streaming server, the metrics endpoint,
    # then the use cases (the clean-ups removals left get a grace period)
    await close_resources(app)
    for task in (reconciling, watcher):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await close_resources(backend)
