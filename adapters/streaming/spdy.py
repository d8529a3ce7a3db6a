"""The SPDY/3.1 frame codec (the framing of Kubernetes' `httpstream/spdy`).

Control frames: 1 control bit, 15-bit version (3), 16-bit type, 8-bit flags, 24-bit length.
Data frames: 0 bit, 31-bit stream ID, 8-bit flags, 24-bit length. Header blocks are
`count, (len, name, len, value)*` with 32-bit big-endian lengths (several values of one name
joined by NUL), zlib-compressed with the SPDY/3 dictionary, one compression context per
direction for the whole session, each block ending in a sync flush.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

VERSION = 3
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
MAX_LENGTH = (1 << 24) - 1
STREAM_MASK = 0x7FFFFFFF

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = (
    1, 2, 3, 4, 6, 7, 8, 9,
)  # fmt: skip

# RST_STREAM status codes
PROTOCOL_ERROR, INVALID_STREAM, REFUSED_STREAM, CANCEL, INTERNAL_ERROR = 1, 2, 3, 5, 6

HeaderList = tuple[tuple[str, str], ...]


class SpdyError(Exception):
    """A frame that breaks the protocol."""


def _dictionary() -> bytes:
    """The SPDY/3 header compression dictionary (1423 bytes, from the SPDY/3 draft)."""
    text = (
        "options head post put delete trace accept accept-charset accept-encoding "
        "accept-language accept-ranges age allow authorization cache-control connection "
        "content-base content-encoding content-language content-length content-location "
        "content-md5 content-range content-type date etag expect expires from host if-match "
        "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
        "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
        "server te trailer transfer-encoding upgrade user-agent vary via warning "
        "www-authenticate method get status|200 OK|version HTTP/1.1 url public set-cookie "
        "keep-alive origin"
    ).replace("|200 OK|", " 200_OK ")
    words = [w.replace("_", " ") for w in text.split()]
    tail = (
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417502"
        "504505203 Non-Authoritative Information204 No Content301 Moved Permanently"
        "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error"
        "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct "
        "Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,"
        "image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
        "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8"
        "charset=iso-8859-1,utf-,*,enq=0."
    )
    prefixed = b"".join(struct.pack(">I", len(w)) + w.encode() for w in words)
    return prefixed + tail.encode()


DICTIONARY = _dictionary()


@dataclass(frozen=True, slots=True)
class Data:
    stream_id: int
    data: bytes = b""
    fin: bool = False


@dataclass(frozen=True, slots=True)
class SynStream:
    stream_id: int
    headers: HeaderList = ()
    associated_id: int = 0
    priority: int = 0
    fin: bool = False
    unidirectional: bool = False


@dataclass(frozen=True, slots=True)
class SynReply:
    stream_id: int
    headers: HeaderList = ()
    fin: bool = False


@dataclass(frozen=True, slots=True)
class Headers:
    stream_id: int
    headers: HeaderList = ()
    fin: bool = False


@dataclass(frozen=True, slots=True)
class RstStream:
    stream_id: int
    status: int = CANCEL


@dataclass(frozen=True, slots=True)
class Settings:
    entries: tuple[tuple[int, int, int], ...] = ()  # (flags, id, value)
    clear: bool = False


@dataclass(frozen=True, slots=True)
class Ping:
    id: int


@dataclass(frozen=True, slots=True)
class GoAway:
    last_stream_id: int = 0
    status: int = 0


@dataclass(frozen=True, slots=True)
class WindowUpdate:
    stream_id: int
    delta: int


Frame = Data | SynStream | SynReply | Headers | RstStream | Settings | Ping | GoAway | WindowUpdate


def header_value(headers: HeaderList, name: str) -> str:
    """The (first) value of `name`; "" when absent."""
    name = name.lower()
    for key, value in headers:
        if key == name:
            return value.split("\x00", 1)[0]
    return ""


class Encoder:
    """Frames to bytes, for one direction of one session (it owns the header compressor)."""

    def __init__(self) -> None:
        self._zlib = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)

    def _block(self, headers: HeaderList) -> bytes:
        raw = [struct.pack(">I", len(headers))]
        for name, value in headers:
            n, v = name.lower().encode(), value.encode()
            raw += [struct.pack(">I", len(n)), n, struct.pack(">I", len(v)), v]
        return self._zlib.compress(b"".join(raw)) + self._zlib.flush(zlib.Z_SYNC_FLUSH)

    def encode(self, frame: Frame) -> bytes:
        if isinstance(frame, Data):
            return _data(frame.stream_id, FLAG_FIN if frame.fin else 0, frame.data)
        if isinstance(frame, SynStream):
            flags = (FLAG_FIN if frame.fin else 0) | (
                FLAG_UNIDIRECTIONAL if frame.unidirectional else 0
            )
            body = struct.pack(
                ">IIBB",
                frame.stream_id & STREAM_MASK,
                frame.associated_id & STREAM_MASK,
                (frame.priority & 7) << 5,
                0,
            )
            return _control(SYN_STREAM, flags, body + self._block(frame.headers))
        if isinstance(frame, SynReply | Headers):
            kind = SYN_REPLY if isinstance(frame, SynReply) else HEADERS
            body = struct.pack(">I", frame.stream_id & STREAM_MASK) + self._block(frame.headers)
            return _control(kind, FLAG_FIN if frame.fin else 0, body)
        if isinstance(frame, RstStream):
            return _control(RST_STREAM, 0, struct.pack(">II", frame.stream_id, frame.status))
        if isinstance(frame, Settings):
            body = struct.pack(">I", len(frame.entries)) + b"".join(
                struct.pack(">I", (flags << 24) | (key & 0xFFFFFF)) + struct.pack(">I", value)
                for flags, key, value in frame.entries
            )
            return _control(SETTINGS, 1 if frame.clear else 0, body)
        if isinstance(frame, Ping):
            return _control(PING, 0, struct.pack(">I", frame.id))
        if isinstance(frame, GoAway):
            return _control(GOAWAY, 0, struct.pack(">II", frame.last_stream_id, frame.status))
        return _control(WINDOW_UPDATE, 0, struct.pack(">II", frame.stream_id, frame.delta))


def _control(kind: int, flags: int, body: bytes) -> bytes:
    if len(body) > MAX_LENGTH:
        raise SpdyError("control frame too large")
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(body)) + body


def _data(stream_id: int, flags: int, data: bytes) -> bytes:
    if len(data) > MAX_LENGTH:
        raise SpdyError("data frame too large")
    return struct.pack(">II", stream_id & STREAM_MASK, (flags << 24) | len(data)) + data


class Decoder:
    """Bytes to frames, for one direction of one session (it owns the decompressor).
    Control frames of unknown types are skipped, as SPDY/3 says."""

    def __init__(self) -> None:
        self._zlib = zlib.decompressobj(zdict=DICTIONARY)
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            first, second = struct.unpack_from(">II", self._buffer)
            length = second & 0xFFFFFF
            if len(self._buffer) < 8 + length:
                break
            flags = second >> 24
            body = bytes(self._buffer[8 : 8 + length])
            del self._buffer[: 8 + length]
            if first & 0x80000000:
                frame = self._control(first, flags, body)
                if frame is not None:
                    frames.append(frame)
            else:
                frames.append(Data(first & STREAM_MASK, body, bool(flags & FLAG_FIN)))
        return frames

    def _block(self, data: bytes) -> HeaderList:
        try:
            raw = self._zlib.decompress(data)
        except zlib.error as e:
            raise SpdyError(f"bad header block: {e}") from e
        try:
            (count,) = struct.unpack_from(">I", raw)
            pos, out = 4, []
            for _ in range(count):
                (n,) = struct.unpack_from(">I", raw, pos)
                name = raw[pos + 4 : pos + 4 + n].decode()
                pos += 4 + n
                (v,) = struct.unpack_from(">I", raw, pos)
                value = raw[pos + 4 : pos + 4 + v].decode()
                pos += 4 + v
                out.append((name, value))
        except (struct.error, UnicodeDecodeError) as e:
            raise SpdyError(f"bad header block: {e}") from e
        if pos != len(raw):
            raise SpdyError("bad header block: trailing bytes")
        return tuple(out)

    def _control(self, first: int, flags: int, body: bytes) -> Frame | None:
        version, kind = (first >> 16) & 0x7FFF, first & 0xFFFF
        if version != VERSION:
            raise SpdyError(f"unsupported SPDY version {version}")
        fin = bool(flags & FLAG_FIN)
        try:
            if kind == SYN_STREAM:
                sid, assoc, prio = struct.unpack_from(">IIB", body)
                return SynStream(
                    sid & STREAM_MASK,
                    self._block(body[10:]),
                    assoc & STREAM_MASK,
                    prio >> 5,
                    fin,
                    bool(flags & FLAG_UNIDIRECTIONAL),
                )
            if kind in (SYN_REPLY, HEADERS):
                (sid,) = struct.unpack_from(">I", body)
                cls = SynReply if kind == SYN_REPLY else Headers
                return cls(sid & STREAM_MASK, self._block(body[4:]), fin)
            if kind == RST_STREAM:
                sid, status = struct.unpack_from(">II", body)
                return RstStream(sid & STREAM_MASK, status)
            if kind == SETTINGS:
                (count,) = struct.unpack_from(">I", body)
                entries = []
                for i in range(count):
                    key, value = struct.unpack_from(">II", body, 4 + 8 * i)
                    entries.append((key >> 24, key & 0xFFFFFF, value))
                return Settings(tuple(entries), bool(flags & 1))
            if kind == PING:
                return Ping(struct.unpack_from(">I", body)[0])
            if kind == GOAWAY:
                last, status = struct.unpack_from(">I", body)[0], 0
                if len(body) >= 8:
                    status = struct.unpack_from(">I", body, 4)[0]
                return GoAway(last & STREAM_MASK, status)
            if kind == WINDOW_UPDATE:
                sid, delta = struct.unpack_from(">II", body)
                return WindowUpdate(sid & STREAM_MASK, delta & STREAM_MASK)
        except struct.error as e:
            raise SpdyError(f"short control frame of type {kind}") from e
        return None
