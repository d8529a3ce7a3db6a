"""A clock tests can set and advance."""

import asyncio


class FakeClock:
    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self.ns = start_ns

    def now_ns(self) -> int:
        self.ns += 1_000  # every reading is later than the one before
        return self.ns

    def advance(self, seconds: float) -> None:
        self.ns += int(seconds * 1e9)

    async def sleep(self, seconds: float) -> None:
        """Time passes at once; other tasks get a turn."""
        self.advance(seconds)
        await asyncio.sleep(0)
