"""The node's security profiles a pod or container names."""

from __future__ import annotations

from typing import Any

from domain.model import LOCALHOST, SecurityProfile
from domain.spec.seccomp import check_profile
from ports.profiles import SecurityProfiles


async def seccomp_profile(
    profiles: SecurityProfiles, profile: SecurityProfile, privileged: bool
) -> dict[str, Any] | None:
    """The Localhost seccomp profile's contents from the node; None for the other kinds and
    for privileged containers, which run without seccomp."""
    check_profile(profile)
    if privileged or profile.kind != LOCALHOST:
        return None
    return await profiles.seccomp(profile.localhost_ref)
