"""kubelet's container restart back-off: 10 s doubling to 5 min, reset after 10 min running."""

from __future__ import annotations

from dataclasses import dataclass, field

SECOND = 1_000_000_000
INITIAL = 10 * SECOND
MAXIMUM = 300 * SECOND
RESET_AFTER = 600 * SECOND


@dataclass
class Backoff:
    """Per-key delays, as kubelet's flowcontrol.Backoff keyed by pod and container.

    The first restart of a container is immediate; each later one waits the current delay
    after the container finished, and the delay doubles up to the maximum. A container that
    ran for `reset_after` (or a key unused for twice the maximum) starts over.
    """

    initial: int = INITIAL
    maximum: int = MAXIMUM
    reset_after: int = RESET_AFTER
    _entries: dict[str, tuple[int, int]] = field(default_factory=dict)  # delay, last restart

    def _expired(self, key: str, ran: int, now: int) -> bool:
        entry = self._entries.get(key)
        return entry is None or ran >= self.reset_after or now - entry[1] > 2 * self.maximum

    def remaining(self, key: str, finished_at: int, ran: int, now: int) -> int:
        """Nanoseconds until the container may restart; 0 when it may now."""
        if self._expired(key, ran, now):
            return 0
        delay = self._entries[key][0]
        return max(0, finished_at + delay - now)

    def restarted(self, key: str, ran: int, now: int) -> None:
        """Record a restart: the next one waits longer."""
        if self._expired(key, ran, now):
            self._entries[key] = (self.initial, now)
        else:
            self._entries[key] = (min(self._entries[key][0] * 2, self.maximum), now)

    def seed(self, key: str, restarts: int, at: int) -> None:
        """After a restart of hexcri: the delay `restarts` earlier restarts reached, as of
        `at` (the last one), so that a crash loop does not start over at once."""
        if key not in self._entries and restarts > 0:
            delay = min(self.initial << min(restarts - 1, 30), self.maximum)
            self._entries[key] = (delay, at)

    def delay(self, key: str) -> int:
        entry = self._entries.get(key)
        return entry[0] if entry else 0

    def forget(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]
