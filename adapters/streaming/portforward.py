"""Kubernetes' port-forward protocol (`portforward.k8s.io`): per forwarded connection the
client opens an `error` and a `data` stream carrying the same `requestID` and `port`; the
data stream is spliced to a TCP connection to that port on the pod's localhost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from adapters.streaming.session import SpdySession, SpdyStream
from ports.streams import Connection

log = logging.getLogger(__name__)

PROTOCOL = "portforward.k8s.io"
Dial = Callable[[int], Awaitable[Connection]]


def _request_id(stream: SpdyStream, kind: str) -> str:
    """The pair's ID; old clients send none and open error then data (IDs two apart)."""
    rid = stream.header("requestid")
    if rid:
        return rid
    return str(stream.id if kind == "error" else stream.id - 2)


async def serve_spdy(session: SpdySession, dial: Dial) -> None:
    pending: dict[str, dict[str, SpdyStream]] = {}
    forwards: set[asyncio.Task[None]] = set()
    try:
        while (stream := await session.accept()) is not None:
            kind = stream.header("streamtype")
            if kind not in ("error", "data"):
                await stream.reset()
                continue
            pair = pending.setdefault(_request_id(stream, kind), {})
            pair[kind] = stream
            if len(pair) == 2:
                pending = {k: v for k, v in pending.items() if v is not pair}
                task = asyncio.create_task(_forward(pair["data"], pair["error"], dial))
                forwards.add(task)
                task.add_done_callback(forwards.discard)
    finally:
        for task in forwards:
            task.cancel()
        await asyncio.gather(*forwards, return_exceptions=True)


async def _forward(data: SpdyStream, error: SpdyStream, dial: Dial) -> None:
    try:
        port = int(data.header("port"))
    except ValueError:
        await _fail(data, error, f"invalid port {data.header('port')!r}")
        return
    try:
        conn = await dial(port)
    except Exception as e:
        await _fail(data, error, f"failed to connect to localhost:{port} in the pod: {e}")
        return
    upstream = asyncio.create_task(_client_to_pod(data, conn))
    try:
        while chunk := await conn.read():
            await data.write(chunk)
    except ConnectionError as e:
        log.debug("port-forward to %d ended: %s", port, e)
    finally:
        upstream.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await upstream
        await conn.close()
        await data.close()
        await error.close()


async def _client_to_pod(data: SpdyStream, conn: Connection) -> None:
    while chunk := await data.read():
        await conn.write(chunk)
    await conn.close_write()


async def _fail(data: SpdyStream, error: SpdyStream, message: str) -> None:
    with contextlib.suppress(ConnectionError):
        await error.write(message.encode())
    await error.close()
    await data.close()
