"""The CRI streaming server: Exec/Attach/PortForward return a single-use URL here; the client
(kubelet, the apiserver's proxy, crictl) connects to it and upgrades to SPDY/3.1.

Routes `/exec/<token>`, `/attach/<token>`, `/portforward/<token>`; the token names a request
the CRI call validated and cached (it expires after a minute, as kubelet's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from adapters.streaming import http, portforward, remotecommand
from adapters.streaming.remotecommand import Channel, CommandFailed
from adapters.streaming.session import SpdySession, SpdyStream
from adapters.streaming.tokens import TokenCache
from domain.errors import InvalidArgument
from domain.services.container_stream import ContainerStream
from ports.streams import (
    AttachRequest,
    Connection,
    ExecRequest,
    PodDialer,
    PortForwardRequest,
    StreamRequest,
    Streams,
)

log = logging.getLogger(__name__)

ROUTES: dict[str, type[StreamRequest]] = {
    "exec": ExecRequest,
    "attach": AttachRequest,
    "portforward": PortForwardRequest,
}
PROTOCOL_HEADER = "x-stream-protocol-version"


def split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise InvalidArgument(f"streaming address {address!r} is not host:port")
    return host.strip("[]") or "0.0.0.0", int(port)


class StreamingServer:
    """Implements `ports.streams.StreamingUrls`; serves the URLs it hands out."""

    def __init__(self, streams: ContainerStream, address: str, dialer: PodDialer) -> None:
        self._streams = streams
        self._host, self._port = split_address(address)
        self._dialer = dialer
        self._requests: TokenCache[StreamRequest] = TokenCache()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        host = self._host if self._host not in ("0.0.0.0", "::") else "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self._port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self._host, self._port)
        if self._port == 0:
            self._port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    def url_for(self, request: StreamRequest) -> str:
        kind = next(k for k, cls in ROUTES.items() if isinstance(request, cls))
        return f"{self.base_url}/{kind}/{self._requests.put(request)}"

    # --- connections -------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:
            log.exception("streaming connection failed")
        finally:
            self._connections.discard(task)
            writer.close()

    async def _refuse(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        message: str,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        writer.write(http.response(status, headers or [], message.encode()))
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            req = await http.read_request(reader)
        except http.BadRequest as e:
            await self._refuse(writer, 400, str(e))
            return
        parts = req.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] not in ROUTES:
            await self._refuse(writer, 404, "404 page not found\n")
            return
        if req.method not in ("GET", "POST"):
            await self._refuse(writer, 405, "method not allowed\n")
            return
        request = self._requests.take(parts[1])
        if request is None or not isinstance(request, ROUTES[parts[0]]):
            await self._refuse(writer, 404, "unknown or expired stream token\n")
            return
        if req.has_token("upgrade", "websocket"):
            await self._refuse(
                writer,
                400,
                "unable to upgrade: WebSocket streaming is not supported, use SPDY/3.1\n",
            )
            return
        if not (req.has_token("connection", "upgrade") and req.has_token("upgrade", "spdy/3.1")):
            await self._refuse(
                writer, 400, "unable to upgrade: missing upgrade headers in request\n"
            )
            return
        supported = (
            (portforward.PROTOCOL,)
            if isinstance(request, PortForwardRequest)
            else remotecommand.SPDY_PROTOCOLS
        )
        offered = req.header_values(PROTOCOL_HEADER)
        protocol = next((p for p in offered if p in supported), None)
        if offered and protocol is None:
            await self._refuse(
                writer,
                403,
                f"unable to upgrade: unable to negotiate protocol: client supports {offered}, "
                f"server supports {list(supported)}\n",
                [("X-Accepted-Stream-Protocol-Versions", ", ".join(supported))],
            )
            return
        headers = [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1")]
        if protocol:
            headers.append(("X-Stream-Protocol-Version", protocol))
        writer.write(http.response(101, headers))
        await writer.drain()
        session = SpdySession(reader, writer)
        try:
            if isinstance(request, PortForwardRequest):
                await portforward.serve_spdy(session, self._pod_dial(request))
            else:
                await self._remote_command(session, protocol or remotecommand.V1, request)
        finally:
            await session.close()

    def _pod_dial(self, request: PortForwardRequest) -> Callable[[int], Awaitable[Connection]]:
        async def dial(port: int) -> Connection:
            return await self._streams.dial_pod_port(self._dialer, request, port)

        return dial

    async def _remote_command(
        self, session: SpdySession, protocol: str, request: ExecRequest | AttachRequest
    ) -> None:
        expected = remotecommand.expected_channels(
            protocol, request.stdin, request.stdout, request.stderr, request.tty
        )
        channels: dict[str, Channel] = {}
        try:
            async with asyncio.timeout(remotecommand.STREAM_TIMEOUT):
                while not expected <= channels.keys():
                    stream: SpdyStream | None = await session.accept()
                    if stream is None:
                        return
                    kind = stream.header("streamtype")
                    if kind in expected:
                        channels[kind] = stream
        except TimeoutError:
            log.warning("streams %s never came", sorted(expected - channels.keys()))
            return
        uses = self._streams

        async def run(streams: Streams) -> None:
            if isinstance(request, ExecRequest):
                code = await uses.exec_streaming(request, streams)
                if code != 0:
                    raise CommandFailed(request.cmd, code)
            else:
                await uses.attach(request, streams)

        await remotecommand.serve(protocol, channels, request.tty, run, session.closed)
