"""The wall clock."""

import time


class SystemClock:
    """Implements Clock."""

    def now_ns(self) -> int:
        return time.time_ns()
