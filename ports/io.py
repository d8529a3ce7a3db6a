"""Container stdio and the CRI log files it is pumped into."""

from __future__ import annotations

from typing import Protocol

from ports.runtime import Stdio
from ports.streams import Streams


class ContainerIO(Protocol):
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
