"""kubelet's restart back-off."""

from __future__ import annotations

from adapters.manifest.backoff import MAXIMUM, SECOND, Backoff


def restart_delays(backoff: Backoff, crashes: int, ran: int = SECOND) -> list[int]:
    """The wait before each restart of a container that crashes `crashes` times."""
    now, delays = 0, []
    for _ in range(crashes):
        finished = now + ran
        wait = backoff.remaining("pod/c", finished, ran, finished)
        now = finished + wait
        backoff.restarted("pod/c", ran, now)
        delays.append(wait // SECOND)
    return delays


def test_first_restart_at_once_then_doubling_to_five_minutes() -> None:
    assert restart_delays(Backoff(), 8) == [0, 10, 20, 40, 80, 160, 300, 300]


def test_ten_minutes_of_running_resets_it() -> None:
    backoff = Backoff()
    restart_delays(backoff, 4)
    assert backoff.delay("pod/c") == 80 * SECOND
    assert backoff.remaining("pod/c", 10**15, 600 * SECOND, 10**15) == 0
    backoff.restarted("pod/c", 600 * SECOND, 10**15)
    assert backoff.delay("pod/c") == 10 * SECOND


def test_seeded_from_the_restart_count_after_a_restart_of_hexcri() -> None:
    backoff = Backoff()
    backoff.seed("pod/c", 3, at=0)
    assert backoff.delay("pod/c") == 40 * SECOND
    assert backoff.remaining("pod/c", 5 * SECOND, SECOND, 5 * SECOND) == 40 * SECOND
    backoff.seed("pod/c", 9, at=0)  # a known key keeps its own delay
    assert backoff.delay("pod/c") == 40 * SECOND
    fresh = Backoff()
    fresh.seed("pod/c", 50, at=0)
    assert fresh.delay("pod/c") == MAXIMUM
    fresh.forget("pod/")
    assert fresh.delay("pod/c") == 0
