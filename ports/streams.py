"""Interactive streams: exec, attach and port-forward requests, the stdio a client streams,
the URLs the streaming server hands out for them, and connections into a pod's network."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from domain.model import Frozen

Write = Callable[[bytes], Awaitable[None]]


class TerminalSize(Frozen):
    width: int
    height: int


class ExecRequest(Frozen):
    """A validated Exec: what runs where, and which streams the client will open."""

    container_id: str
    cmd: tuple[str, ...]
    tty: bool = False
    stdin: bool = False
    stdout: bool = False
    stderr: bool = False


class AttachRequest(Frozen):
    container_id: str
    tty: bool = False
    stdin: bool = False
    stdout: bool = False
    stderr: bool = False


class PortForwardRequest(Frozen):
    sandbox_id: str
    ports: tuple[int, ...] = ()


StreamRequest = ExecRequest | AttachRequest | PortForwardRequest


@dataclass(frozen=True, slots=True)
class Streams:
    """A client's side of a process's stdio: `stdin` yields chunks until EOF, `stdout` and
    `stderr` take chunks (None: not streamed), `resize` yields terminal sizes (tty only)."""

    stdin: AsyncIterator[bytes] | None = None
    stdout: Write | None = None
    stderr: Write | None = None
    tty: bool = False
    resize: AsyncIterator[TerminalSize] | None = None


class StreamingUrls(Protocol):
    """The streaming server, as the CRI's Exec/Attach/PortForward see it."""

    def url_for(self, request: StreamRequest) -> str:
        """A single-use URL that serves `request` (expires if not used soon)."""
        ...


class Connection(Protocol):
    async def read(self) -> bytes:
        """The next chunk; b"" at EOF."""
        ...

    async def write(self, data: bytes) -> None: ...

    async def close_write(self) -> None:
        """Half-close: the peer reads EOF."""
        ...

    async def close(self) -> None: ...


class PodDialer(Protocol):
    async def dial(self, netns_path: str, port: int) -> Connection:
        """A TCP connection to localhost:`port` inside the network namespace at `netns_path`
        ("" for the node's own network)."""
        ...
