"""runc refusals that are the client's mistake, told apart from real failures by their text.

containerd reports runc's errors as UNKNOWN with runc's message; a command missing from the
image or a working directory that is a file is a mistake in the container's config, not an
internal error, and is answered FailedPrecondition with the part of runc's message that
says what is wrong.
"""

from __future__ import annotations

import re

from domain.errors import FailedPrecondition

# runc's messages for a process that cannot be started as configured.
_PATTERNS = (
    (re.compile(r'exec: "[^"]*": executable file not found in \$PATH'), "command not found"),
    (
        re.compile(r"exec: \"[^\"]*\": (stat [^:]*: )?no such file or directory"),
        "command not found",
    ),
    (re.compile(r"exec: \"[^\"]*\": permission denied"), "command not executable"),
    (re.compile(r"exec format error"), "command not executable"),
    (
        re.compile(r"chdir to cwd \(\"[^\"]*\"\) set in config\.json failed: [^:]*"),
        "bad working_dir",
    ),
    (re.compile(r"open /proc/sys/[^:]*: no such file or directory"), "unknown sysctl"),
    (re.compile(r"error during container init: mkdir [^:]*: not a directory"), "bad working_dir"),
    (
        re.compile(
            r"error mounting .*not a directory|are you trying to mount a directory onto a file"
        ),
        "bad mount",
    ),
)
MESSAGE_LIMIT = 300


def client_refusal(details: str, where: str) -> FailedPrecondition | None:
    """FailedPrecondition for a runc refusal of the container's config, else None; the
    message keeps runc's own words (after containerd's "runc create failed: " prefix)."""
    for pattern, what in _PATTERNS:
        if pattern.search(details):
            said = details.rpartition("runc create failed: ")[2]
            return FailedPrecondition(
                f"{where}the container's config cannot run ({what}): {said}"[:MESSAGE_LIMIT]
            )
    return None
