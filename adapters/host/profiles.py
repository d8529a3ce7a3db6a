"""Security profiles read from this node's files."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from domain.errors import InvalidArgument, NotFound


class FileSecurityProfiles:
    """Implements `ports.profiles.SecurityProfiles`: JSON files on the node, as kubelet's
    seccomp profile root (`/var/lib/kubelet/seccomp`) holds them."""

    async def seccomp(self, path: str) -> dict[str, Any]:
        return await asyncio.to_thread(_load, path)


def _load(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            profile = json.loads(f.read())
    except FileNotFoundError:
        raise NotFound(f"seccomp profile {path!r} not found on the node") from None
    except (OSError, ValueError) as e:
        raise InvalidArgument(f"cannot load seccomp profile {path!r}: {e}") from None
    if not isinstance(profile, dict) or "defaultAction" not in profile:
        raise InvalidArgument(f"seccomp profile {path!r} has no defaultAction")
    return profile
