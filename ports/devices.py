"""Device nodes on the host, for the devices a container asks for."""

from __future__ import annotations

from typing import Protocol

from domain.spec import HostDevice


class HostDeviceLookup(Protocol):
    async def lookup(self, path: str) -> list[HostDevice]:
        """The device at `path`, or every device under it when it is a directory;
        NotFound when there is none."""
        ...
