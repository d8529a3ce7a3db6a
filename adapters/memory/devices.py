"""Host devices in memory."""

from __future__ import annotations

from domain.errors import NotFound
from domain.spec import HostDevice

DEFAULT_DEVICES = {
    "/dev/null": HostDevice(path="/dev/null", major=1, minor=3),
    "/dev/zero": HostDevice(path="/dev/zero", major=1, minor=5),
    "/dev/fuse": HostDevice(path="/dev/fuse", major=10, minor=229),
}


class MemoryDeviceLookup:
    """Implements HostDeviceLookup over a dict of known device nodes."""

    def __init__(self, devices: dict[str, HostDevice] | None = None) -> None:
        self.devices = dict(DEFAULT_DEVICES if devices is None else devices)

    async def lookup(self, path: str) -> list[HostDevice]:
        found = [d for p, d in self.devices.items() if p == path or p.startswith(path + "/")]
        if not found:
            raise NotFound(f"device {path} does not exist on the host")
        return found
