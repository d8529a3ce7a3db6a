"""runc refusals that are the client's mistake, told apart from real failures by their text.

containerd reports runc's errors as UNKNOWN with runc's message. A command missing from the
image or a working directory that is a file is a mistake in the container's config that
only the image reveals: FailedPrecondition. A sysctl the kernel does not have or whose value
it refuses is a mistake in the request itself: InvalidArgument. Both keep runc's words.
"""

from __future__ import annotations

import re

from domain.errors import FailedPrecondition, HexcriError, InvalidArgument

FP = FailedPrecondition
IA = InvalidArgument
# runc's messages for a process that cannot be started as configured.
_PATTERNS: tuple[tuple[re.Pattern[str], str, type[HexcriError]], ...] = (
    (re.compile(r'exec: "[^"]*": executable file not found in \$PATH'), "command not found", FP),
    (
        re.compile(r'exec: "[^"]*": (stat [^:]*: )?no such file or directory'),
        "command not found",
        FP,
    ),
    (re.compile(r'exec: "[^"]*": permission denied'), "command not executable", FP),
    (re.compile(r"exec format error"), "command not executable", FP),
    (re.compile(r'chdir to cwd \("[^"]*"\) set in config\.json failed'), "bad working_dir", FP),
    (
        re.compile(r"error during container init: mkdir [^:]*: not a directory"),
        "bad working_dir",
        FP,
    ),
    (
        re.compile(r"error mounting .*not a directory|mount a directory onto a file"),
        "bad mount",
        FP,
    ),
    (re.compile(r"(mkdir|open|stat) [^:]*: file name too long"), "path too long", IA),
    (re.compile(r"open /proc/sys/[^:]*: no such file or directory"), "unknown sysctl", IA),
    (re.compile(r"write /proc/sys/[^:]*: invalid argument"), "sysctl value refused", IA),
)
MESSAGE_LIMIT = 300


def client_refusal(details: str, where: str) -> HexcriError | None:
    """The domain error for a runc refusal of the container's config, else None; the
    message keeps runc's own words (after containerd's "runc create failed: " prefix)."""
    for pattern, what, error in _PATTERNS:
        if pattern.search(details):
            said = details.rpartition("runc create failed: ")[2]
            return error(
                f"{where}the container's config cannot run ({what}): {said}"[:MESSAGE_LIMIT]
            )
    return None
