"""Container stdio: the handle the runtime gives a process, the byte streams behind it, the
CRI log files they are pumped into, and the pump's own contract (`ContainerIO`).

The pump (`domain.stdio.ContainerStdio`) is written once, above two ports adapters
implement: `StdioStreams` (a container's stdio as byte streams: FIFOs, in-memory pipes) and
`LogFiles` (append, reopen and close a log file).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from domain.model import Frozen
from ports.streams import Streams


class StreamEnd(Frozen):
    """The process's end of one stdio stream, as the backend that made it names it (a FIFO's
    path, an in-memory pipe). Each backend subclasses it; the domain only passes it on."""


class Stdio(Frozen):
    """A container's stdio as `StdioStreams` made it, for `ContainerRuntime.create`: one end
    per stream the process has (None: /dev/null) and whether they are a terminal."""

    stdin: StreamEnd | None = None
    stdout: StreamEnd | None = None
    stderr: StreamEnd | None = None
    terminal: bool = False


class OutputStream(Protocol):
    """hexcri's (reading) end of a container's stdout or stderr."""

    def start(self, on_data: Callable[[bytes], None], on_end: Callable[[], None]) -> None:
        """Hand every chunk the process writes to `on_data`; call `on_end` once, at EOF (its
        last writer gone, after one came) or at `close`."""
        ...

    async def drain(self, timeout: float) -> None:
        """Hand over what the writers left; wait at most `timeout` for them to end (EOF)."""
        ...

    def close(self) -> None:
        """Stop reading (`on_end` follows, unless it came before). Idempotent."""
        ...


class InputStream(Protocol):
    """hexcri's (writing) end of a container's stdin, held open for the container's life."""

    async def write(self, data: bytes) -> None:
        """Write all of `data`, waiting while the process does not read; BrokenPipeError once
        closed."""
        ...

    def close(self) -> None:
        """The process reads EOF after what was written. Idempotent."""
        ...


@dataclass(frozen=True, slots=True)
class StdioPipes:
    """A container's stdio, both ends: the process's (`stdio`) and hexcri's."""

    stdio: Stdio
    stdout: OutputStream
    stderr: OutputStream | None = None  # none with a terminal: its output is one stream
    stdin: InputStream | None = None


class StdioStreams(Protocol):
    """Byte streams for containers' stdio."""

    async def open(self, container_id: str, tty: bool, stdin: bool) -> StdioPipes:
        """Make the container's stdio and open hexcri's ends. Stdio that exists is opened
        again: after a restart of hexcri the runtime still holds its ends, and what the
        process wrote meanwhile is read."""
        ...

    async def remove(self, container_id: str) -> None:
        """Remove the container's stdio (hexcri's ends are closed). Idempotent."""
        ...


class LogFile(Protocol):
    """A CRI log file opened for appending."""

    def write(self, data: bytes) -> None:
        """Append `data` (whole records); returns at once, the writes are kept in order."""
        ...

    async def reopen(self) -> None:
        """Write out what was appended, close the file and open its path again (a new file
        after kubelet rotated the old one, there when this returns)."""
        ...

    async def close(self) -> None:
        """Write out what was appended and close the file. Idempotent."""
        ...


class LogFiles(Protocol):
    async def open(self, path: str) -> LogFile:
        """The log file at `path` for appending, created now with its directory.
        InvalidArgument (with the reason) when it cannot be made."""
        ...


class ContainerIO(Protocol):
    """A container's stdio and CRI log, as the use cases see them (`domain.stdio`)."""

    async def open(self, container_id: str, log_path: str, tty: bool, stdin: bool) -> Stdio:
        """Prepare stdio for a container and start pumping its output into `log_path`."""
        ...

    async def reopen_log(self, container_id: str) -> None:
        """Reopen the log file after kubelet rotated it."""
        ...

    async def attach(self, container_id: str, streams: Streams) -> None:
        """Stream the container's output to `streams` (as well as to its log) and feed
        `streams.stdin` to its stdin, until the output ends or the caller cancels. When the
        client's stdin ends, the client is detached (attach returns) unless the container's
        stdin was closed meanwhile (`close_stdin`): then the output goes on to its end."""
        ...

    async def close_stdin(self, container_id: str) -> None:
        """Close hexcri's writer of the container's stdin for good: the process reads EOF (the
        runtime's side is closed by `ContainerRuntime.close_stdin`). Idempotent."""
        ...

    async def close(self, container_id: str) -> None:
        """Stop pumping and remove the container's stdio. Idempotent."""
        ...
