"""A small client of the CRI streaming protocols over SPDY/3.1, as kubectl/client-go speaks
them: the HTTP upgrade, then remote command streams (error, stdin, stdout, stderr, resize)
or port-forward stream pairs. It uses hexcri's SPDY codec and session; the e2e suite proves
both against containerd's own streaming server."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from adapters.streaming.session import SpdySession, SpdyStream

REMOTE_COMMAND = ("v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io")
PORT_FORWARD = ("portforward.k8s.io",)


class UpgradeRefused(Exception):
    def __init__(self, status: int, head: str, body: bytes) -> None:
        super().__init__(f"upgrade refused: {status}: {body!r}")
        self.status = status
        self.head = head
        self.body = body


@contextlib.asynccontextmanager
async def upgrade(url: str, protocols: tuple[str, ...]) -> AsyncIterator[tuple[SpdySession, str]]:
    """Connect to `url`, upgrade to SPDY/3.1 offering `protocols`; yields the session and the
    protocol the server chose."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Connection: Upgrade",
        "Upgrade: SPDY/3.1",
        "Content-Length: 0",
        *(f"X-Stream-Protocol-Version: {p}" for p in protocols),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status = int(head.split(" ", 2)[1])
    if status != 101:
        body = await reader.read()
        writer.close()
        raise UpgradeRefused(status, head, body)
    chosen = ""
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "x-stream-protocol-version":
            chosen = value.strip()
    session = SpdySession(reader, writer, client=True)
    try:
        yield session, chosen
    finally:
        await session.close()


async def read_all(stream: SpdyStream) -> bytes:
    out = b""
    while chunk := await stream.read():
        out += chunk
    return out


async def read_until(stream: SpdyStream, text: bytes, timeout: float = 30) -> bytes:
    """What `stream` gives until `text` shows up (or EOF)."""
    out = b""
    async with asyncio.timeout(timeout):
        while text not in out:
            chunk = await stream.read()
            if not chunk:
                break
            out += chunk
    return out


@dataclass
class RemoteCommand:
    """An open exec/attach: its streams by type."""

    protocol: str
    streams: dict[str, SpdyStream]

    def __getitem__(self, kind: str) -> SpdyStream:
        return self.streams[kind]

    async def resize(self, width: int, height: int) -> None:
        await self.streams["resize"].write(json.dumps({"Width": width, "Height": height}).encode())

    async def status(self) -> bytes:
        return await read_all(self.streams["error"])


@contextlib.asynccontextmanager
async def remote_command(
    url: str,
    *,
    stdin: bool = False,
    stdout: bool = True,
    stderr: bool = True,
    tty: bool = False,
    protocols: tuple[str, ...] = REMOTE_COMMAND,
) -> AsyncIterator[RemoteCommand]:
    """Open the streams client-go opens for these options (error first)."""
    async with upgrade(url, protocols) as (session, protocol):
        kinds = ["error"]
        kinds += ["stdin"] if stdin else []
        kinds += ["stdout"] if stdout else []
        kinds += ["stderr"] if stderr and not tty else []
        kinds += ["resize"] if tty and protocol in REMOTE_COMMAND[:2] else []
        streams = {}
        for kind in kinds:
            streams[kind] = await session.open((("streamtype", kind),))
        yield RemoteCommand(protocol, streams)


@dataclass
class Output:
    protocol: str
    stdout: bytes
    stderr: bytes
    error: bytes

    def status(self) -> dict[str, object]:
        return json.loads(self.error) if self.error else {}


async def run(url: str, stdin: bytes | None = None, **options: object) -> Output:
    """One exec to the end: send `stdin` (then EOF), collect stdout, stderr and the status."""
    async with remote_command(url, stdin=stdin is not None, **options) as rc:  # type: ignore[arg-type]
        if stdin is not None:
            await rc["stdin"].write(stdin)
            await rc["stdin"].close()
        readers = [read_all(rc[k]) if k in rc.streams else _empty() for k in ("stdout", "stderr")]
        out, err, status = await asyncio.gather(*readers, rc.status())
        return Output(rc.protocol, out, err, status)


async def _empty() -> bytes:
    return b""


async def forward(url: str, port: int, payload: bytes, request_id: int = 0) -> tuple[bytes, bytes]:
    """One port-forward connection: send `payload`, half-close, read to EOF; returns the data
    and what the error stream said."""
    async with upgrade(url, PORT_FORWARD) as (session, _):
        headers = (("port", str(port)), ("requestid", str(request_id)))
        error = await session.open((("streamtype", "error"), *headers))
        data = await session.open((("streamtype", "data"), *headers))
        await data.write(payload)
        await data.close()
        return await asyncio.gather(read_all(data), read_all(error))
