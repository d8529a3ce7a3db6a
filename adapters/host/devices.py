"""Device nodes on this host, by stat(2)."""

from __future__ import annotations

import asyncio
import os
import stat

from domain.errors import NotFound
from domain.spec import HostDevice


class StatDeviceLookup:
    """Implements HostDeviceLookup: a device node, or every one under a directory."""

    async def lookup(self, path: str) -> list[HostDevice]:
        return await asyncio.to_thread(_lookup, path)


def _device(path: str) -> HostDevice | None:
    st = os.stat(path)
    if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        return None
    return HostDevice(
        path=path,
        type="c" if stat.S_ISCHR(st.st_mode) else "b",
        major=os.major(st.st_rdev),
        minor=os.minor(st.st_rdev),
        file_mode=stat.S_IMODE(st.st_mode),
        uid=st.st_uid,
        gid=st.st_gid,
    )


def _lookup(path: str) -> list[HostDevice]:
    try:
        if os.path.isdir(path):
            found = []
            for root, _, names in os.walk(path):
                for name in sorted(names):
                    device = _device(os.path.join(root, name))
                    if device is not None:
                        found.append(device)
            return found
        device = _device(path)
    except FileNotFoundError as e:
        raise NotFound(f"device {path} does not exist on the host") from e
    if device is None:
        raise NotFound(f"{path} is not a device")
    return [device]
