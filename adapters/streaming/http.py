"""The little HTTP/1.1 the streaming server needs: one request head, then an upgrade (or an
error answer and close)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

MAX_HEAD = 64 * 1024
REASONS = {
    101: "Switching Protocols",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: tuple[tuple[str, str], ...]  # names lowercased, in order

    def header(self, name: str) -> str:
        for key, value in self.headers:
            if key == name:
                return value
        return ""

    def header_values(self, name: str) -> list[str]:
        """Every value of `name`, whether sent as several headers or comma-separated."""
        return [v.strip() for key, value in self.headers if key == name for v in value.split(",")]

    def has_token(self, name: str, token: str) -> bool:
        return token.lower() in (v.lower() for v in self.header_values(name))


class BadRequest(Exception):
    pass


async def read_request(reader: asyncio.StreamReader) -> Request:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError as e:
        raise BadRequest("request head too large") from e
    except asyncio.IncompleteReadError as e:
        raise BadRequest("connection closed before the request head ended") from e
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(f"bad request line {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequest(f"bad header line {line!r}")
        headers.append((name.strip().lower(), value.strip()))
    url = urlsplit(parts[1])
    return Request(parts[0], url.path, parse_qs(url.query), tuple(headers))


def response(status: int, headers: Sequence[tuple[str, str]] = (), body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}"]
    lines += [f"{k}: {v}" for k, v in headers]
    if status != 101:
        lines += [
            "Content-Type: text/plain; charset=utf-8",
            f"Content-Length: {len(body)}",
            "Connection: close",
        ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
