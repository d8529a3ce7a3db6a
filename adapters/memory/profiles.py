"""Security profiles of a simulated node."""

from __future__ import annotations

import copy
from typing import Any

from domain.errors import NotFound


class MemorySecurityProfiles:
    """Implements `ports.profiles.SecurityProfiles` from profiles a test installs."""

    def __init__(self, seccomp: dict[str, dict[str, Any]] | None = None) -> None:
        self.seccomp_profiles = dict(seccomp or {})

    async def seccomp(self, path: str) -> dict[str, Any]:
        if path not in self.seccomp_profiles:
            raise NotFound(f"seccomp profile {path!r} not found on the node")
        return copy.deepcopy(self.seccomp_profiles[path])
