"""A fault hook for the crash tests: `HEXCRI_FAULT=<step>[@<n>]` makes hexcri SIGKILL itself
the n-th time (default: the first) it passes the named step, so that a `kill -9` lands at a
deterministic point of a call. Unset (always, outside tests), it does nothing.

Steps: `container-created` (containers.Create done: RunPodSandbox's pause, CreateContainer),
`task-started` (Tasks.Start answered: RunPodSandbox, StartContainer), `exec-started` (an
ExecSync's process started), `task-killed` (Tasks.Kill answered: StopPodSandbox,
StopContainer), `task-deleted` (a task deleted, its container not yet: RemovePodSandbox,
RemoveContainer), `ingest-written` (containerd acknowledged the first chunk of a blob:
PullImage).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV = "HEXCRI_FAULT"
_passes: Counter[str] = Counter()


def crash_point(step: str) -> None:
    """SIGKILL this process if `HEXCRI_FAULT` names this pass through `step`."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    name, _, nth = spec.partition("@")
    if name != step:
        return
    _passes[step] += 1
    if _passes[step] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
