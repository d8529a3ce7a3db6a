"""The CRI container log format: `<RFC3339Nano> <stream> <F|P> <content>` per record."""

from __future__ import annotations

import time
from enum import Enum

MAX_RECORD = 16 * 1024  # bytes of content per record: containerd's max_container_log_line_size


class Stream(str, Enum):
    STDOUT = "stdout"
    STDERR = "stderr"


def rfc3339nano(ts_ns: int) -> str:
    """Go's time.RFC3339Nano in UTC: nanoseconds with trailing zeros trimmed."""
    seconds, nanos = divmod(ts_ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    frac = f"{nanos:09d}".rstrip("0")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


def format_record(ts_ns: int, stream: Stream, partial: bool, content: bytes) -> bytes:
    """One log line; `content` must not hold the newline."""
    tag = b"P" if partial else b"F"
    head = f"{rfc3339nano(ts_ns)} {stream.value} ".encode()
    return head + tag + b" " + content + b"\n"


class LineSplitter:
    """Cuts a byte stream into log records, as containerd's CRI logger does.

    A line ended by a newline is a full record (F). A line longer than `max_record` bytes is
    cut into partial records (P) of that size, ended by an F record with the rest; `max_record`
    <= 0 means no limit. Output that ends without a newline is a partial record (`flush`).
    """

    def __init__(self, max_record: int = MAX_RECORD) -> None:
        self._max = max_record if max_record > 0 else 0
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, bool]]:
        """Records completed by `data`, as (content, partial)."""
        self._buf += data
        out: list[tuple[bytes, bool]] = []
        start = 0
        buf = self._buf
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            line = bytes(buf[start:nl])
            start = nl + 1
            while self._max and len(line) > self._max:
                out.append((line[: self._max], True))
                line = line[self._max :]
            out.append((line, False))
        del buf[:start]
        while self._max and len(buf) > self._max:  # a line of exactly max may still end
            out.append((bytes(buf[: self._max]), True))
            del buf[: self._max]
        return out

    def flush(self) -> list[tuple[bytes, bool]]:
        """What is left when the stream ends: output without a final newline is partial (P)."""
        if not self._buf:
            return []
        rest = bytes(self._buf)
        self._buf.clear()
        return [(rest, True)]


def parse_record(line: bytes) -> tuple[str, Stream, bool, bytes]:
    """Split one log line (without its newline) into timestamp, stream, partial, content."""
    ts, stream, tag, content = (
        line.split(b" ", 3) if line.count(b" ") >= 3 else (*line.split(b" ", 2), b"")
    )
    return ts.decode(), Stream(stream.decode()), tag == b"P", content
