"""A SPDY/3.1 session over an asyncio connection: streams the peer opens (server side) or we
open (client side), each a byte pipe with a half-close (FIN) per direction.

No flow control is enforced or announced: Kubernetes' SPDY peer (moby/spdystream) ignores
WINDOW_UPDATE, so neither side ever waits for window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from adapters.streaming import spdy

log = logging.getLogger(__name__)

CHUNK = 32 * 1024


class SpdyStream:
    """One stream: `read` chunks until b"" (the peer's FIN or a reset), `write`, `close`."""

    def __init__(self, session: SpdySession, stream_id: int, headers: spdy.HeaderList) -> None:
        self.session = session
        self.id = stream_id
        self.headers = headers
        self.replied = asyncio.Event()
        self._chunks: asyncio.Queue[bytes] = asyncio.Queue()
        self._remote_done = False
        self._local_done = False

    def header(self, name: str) -> str:
        return spdy.header_value(self.headers, name)

    def _feed(self, data: bytes) -> None:
        if data and not self._remote_done:
            self._chunks.put_nowait(data)

    def _finish(self) -> None:
        if not self._remote_done:
            self._remote_done = True
            self._chunks.put_nowait(b"")

    async def read(self) -> bytes:
        if self._remote_done and self._chunks.empty():
            return b""
        return await self._chunks.get()

    async def write(self, data: bytes) -> None:
        if self._local_done:
            raise ConnectionResetError(f"stream {self.id} is closed")
        for i in range(0, len(data), CHUNK):
            await self.session.send(spdy.Data(self.id, data[i : i + CHUNK]))

    async def close(self) -> None:
        """Half-close our direction (FIN); idempotent, quiet on a dead connection."""
        if self._local_done:
            return
        self._local_done = True
        with contextlib.suppress(ConnectionError):
            await self.session.send(spdy.Data(self.id, b"", fin=True))

    async def reset(self, status: int = spdy.CANCEL) -> None:
        self._local_done = True
        self._finish()
        with contextlib.suppress(ConnectionError):
            await self.session.send(spdy.RstStream(self.id, status))


class SpdySession:
    """Reads frames in a task of its own; `accept` yields the streams the peer opens."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        client: bool = False,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._client = client
        self._encoder = spdy.Encoder()
        self._decoder = spdy.Decoder()
        self._write_lock = asyncio.Lock()
        self._streams: dict[int, SpdyStream] = {}
        self._accepted: asyncio.Queue[SpdyStream | None] = asyncio.Queue()
        self._next_id = 1 if client else 2
        self._last_seen = 0
        self.closed = asyncio.Event()
        self._pump = asyncio.create_task(self._read_loop(), name="spdy-read")

    async def send(self, frame: spdy.Frame) -> None:
        if self.closed.is_set():
            raise ConnectionResetError("SPDY connection is closed")
        async with self._write_lock:
            self._writer.write(self._encoder.encode(frame))
            await self._writer.drain()

    async def accept(self) -> SpdyStream | None:
        """The next stream the peer opened (already replied to); None once the connection
        is gone."""
        if self.closed.is_set() and self._accepted.empty():
            return None
        return await self._accepted.get()

    async def open(self, headers: spdy.HeaderList, timeout: float = 30) -> SpdyStream:
        """Open a stream and wait for the peer's SYN_REPLY."""
        stream_id, self._next_id = self._next_id, self._next_id + 2
        stream = SpdyStream(self, stream_id, headers)
        self._streams[stream_id] = stream
        await self.send(spdy.SynStream(stream_id, headers))
        async with asyncio.timeout(timeout):
            await stream.replied.wait()
        if self.closed.is_set() and stream._remote_done and stream._chunks.qsize() <= 1:
            raise ConnectionResetError(f"stream {stream_id} was refused")
        return stream

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self._reader.read(64 * 1024)
                if not data:
                    break
                for frame in self._decoder.feed(data):
                    await self._dispatch(frame)
        except (ConnectionError, spdy.SpdyError) as e:
            log.debug("SPDY connection ended: %s", e)
        finally:
            self._shutdown()

    async def _dispatch(self, frame: spdy.Frame) -> None:
        if isinstance(frame, spdy.Data):
            stream = self._streams.get(frame.stream_id)
            if stream is not None:
                stream._feed(frame.data)
                if frame.fin:
                    stream._finish()
        elif isinstance(frame, spdy.SynStream):
            await self._opened(frame)
        elif isinstance(frame, spdy.SynReply):
            stream = self._streams.get(frame.stream_id)
            if stream is not None:
                stream.replied.set()
                if frame.fin:
                    stream._finish()
        elif isinstance(frame, spdy.RstStream):
            stream = self._streams.pop(frame.stream_id, None)
            if stream is not None:
                stream._local_done = True
                stream._finish()
                stream.replied.set()
        elif isinstance(frame, spdy.Ping):
            if (frame.id & 1) != (1 if self._client else 0):  # the peer's ping: echo it
                await self.send(frame)
        elif isinstance(frame, spdy.Headers) and frame.fin:
            self._finish_stream(frame.stream_id)
        # SETTINGS, WINDOW_UPDATE, GOAWAY: nothing to do (GOAWAY: the socket closes next)

    def _finish_stream(self, stream_id: int) -> None:
        stream = self._streams.get(stream_id)
        if stream is not None:
            stream._finish()

    async def _opened(self, frame: spdy.SynStream) -> None:
        if frame.stream_id <= self._last_seen or (frame.stream_id & 1) == (self._next_id & 1):
            await self.send(spdy.RstStream(frame.stream_id, spdy.PROTOCOL_ERROR))
            return
        self._last_seen = frame.stream_id
        stream = SpdyStream(self, frame.stream_id, frame.headers)
        self._streams[frame.stream_id] = stream
        if frame.fin:
            stream._finish()
        await self.send(spdy.SynReply(frame.stream_id))
        stream.replied.set()
        self._accepted.put_nowait(stream)

    def _shutdown(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for stream in self._streams.values():
            stream._finish()
            stream.replied.set()
        self._accepted.put_nowait(None)

    async def close(self) -> None:
        """GOAWAY, then close the connection (what the peer sent so far stays readable)."""
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.send(spdy.GoAway(self._last_seen))
        self._shutdown()
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
