"""A bounded wait for what hexcri finishes after its answer (a removal's runtime clean-up)."""

from __future__ import annotations

import time
from collections.abc import Callable

CLEAN_UP_SECONDS = 10.0


def settles(check: Callable[[], None], seconds: float = CLEAN_UP_SECONDS) -> None:
    """Run the assertion `check` until it passes, for at most `seconds`; its last failure
    is raised. A check that passes at once costs one call."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)
