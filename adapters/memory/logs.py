"""CRI log files of the CRI simulator: real files, written at once (the fake's output lands in
the log as soon as it is emitted)."""

from __future__ import annotations

import os
from typing import BinaryIO

from domain.errors import InvalidArgument


class MemoryLogFile:
    """Implements `ports.io.LogFile` with unbuffered writes on the calling thread."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._file: BinaryIO | None = _open(path)

    def write(self, data: bytes) -> None:
        if self._file is not None:
            self._file.write(data)

    async def reopen(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = _open(self._path)

    async def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()


def _open(path: str) -> BinaryIO:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return open(path, "ab", buffering=0)


class MemoryLogFiles:
    """Implements `ports.io.LogFiles`."""

    async def open(self, path: str) -> MemoryLogFile:
        try:
            return MemoryLogFile(path)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise InvalidArgument(reason) from exc
