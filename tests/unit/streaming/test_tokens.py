"""Stream request tokens: single use, expiring, bounded."""

from __future__ import annotations

import pytest

from adapters.streaming.tokens import TokenCache
from domain.errors import ResourceExhausted


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_token_is_taken_once() -> None:
    cache: TokenCache[str] = TokenCache()
    token = cache.put("exec")
    assert cache.take(token) == "exec"
    assert cache.take(token) is None
    assert cache.take("never-issued") is None


def test_tokens_are_unguessable_and_distinct() -> None:
    cache: TokenCache[int] = TokenCache()
    tokens = {cache.put(i) for i in range(200)}
    assert len(tokens) == 200
    assert all(len(t) >= 16 for t in tokens)


def test_a_token_expires_after_its_ttl() -> None:
    clock = FakeClock()
    cache: TokenCache[str] = TokenCache(ttl=60, clock=clock)
    early, late = cache.put("a"), cache.put("b")
    clock.now += 59
    assert cache.take(early) == "a"
    clock.now += 1
    assert cache.take(late) is None
    assert len(cache) == 0


def test_the_cache_is_bounded_but_expired_entries_make_room() -> None:
    clock = FakeClock()
    cache: TokenCache[int] = TokenCache(ttl=10, max_size=2, clock=clock)
    cache.put(1)
    cache.put(2)
    with pytest.raises(ResourceExhausted):
        cache.put(3)
    clock.now += 10
    assert cache.take(cache.put(4)) == 4
