"""Security profiles installed on the node, which a pod may name (seccomp Localhost)."""

from __future__ import annotations

from typing import Any, Protocol


class SecurityProfiles(Protocol):
    async def seccomp(self, path: str) -> dict[str, Any]:
        """The seccomp profile in the node's file `path` (an OCI `linux.seccomp` object):
        NotFound when there is no such file, InvalidArgument when it is not a profile."""
        ...
