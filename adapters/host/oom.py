"""Whether this process may lower oom_score_adj (root without CAP_SYS_RESOURCE may not)."""

from __future__ import annotations

PROC_FILE = "/proc/self/oom_score_adj"


def current_oom_score_adj() -> int:
    with open(PROC_FILE) as f:
        return int(f.read().strip())


def min_oom_score_adj() -> int | None:
    """The lowest score a container may ask for, or None when lowering is permitted.

    Probes by writing a lower score and restoring it, as containerd's
    restrict_oom_score_adj reasoning requires.
    """
    current = current_oom_score_adj()
    if current <= -1000:
        return None
    try:
        with open(PROC_FILE, "w") as f:
            f.write(str(current - 1))
    except PermissionError:
        return current
    with open(PROC_FILE, "w") as f:
        f.write(str(current))
    return None
