"""The wall clock."""

import asyncio
import time


class SystemClock:
    """Implements Clock."""

    def now_ns(self) -> int:
        return time.time_ns()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
