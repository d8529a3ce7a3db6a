"""Single-use tokens for cached stream requests, as kubelet's streaming server keeps them:
a request is taken at most once and expires a minute after it was cached."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from domain.errors import ResourceExhausted

T = TypeVar("T")
TTL_SECONDS = 60.0
MAX_IN_FLIGHT = 1000


class TokenCache(Generic[T]):
    def __init__(
        self,
        ttl: float = TTL_SECONDS,
        max_size: int = MAX_IN_FLIGHT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_size
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, T]] = OrderedDict()

    def __len__(self) -> int:
        self._expire()
        return len(self._items)

    def put(self, item: T) -> str:
        self._expire()
        if len(self._items) >= self._max:
            raise ResourceExhausted("maximum number of in-flight stream requests exceeded")
        token = secrets.token_urlsafe(12)
        self._items[token] = (self._clock() + self._ttl, item)
        return token

    def take(self, token: str) -> T | None:
        """The item of `token`, once; None when unknown, taken or expired."""
        entry = self._items.pop(token, None)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def _expire(self) -> None:
        now = self._clock()
        while self._items:
            token, (deadline, _) = next(iter(self._items.items()))
            if deadline > now:
                break
            del self._items[token]
