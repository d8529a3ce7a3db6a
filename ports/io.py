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
        `streams.stdin` to its stdin, until its output ends or the caller cancels. Closing
        the client's stdin does not close the container's."""
        ...

    async def close(self, container_id: str) -> None:
        """Stop pumping and remove the container's stdio. Idempotent."""
        ...
