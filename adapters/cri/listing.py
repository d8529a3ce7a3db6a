"""List answers from built messages: kubelet lists every second, objects rarely change."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class MessageCache(Generic[T]):
    """The last message built for each object, rebuilt when its key (what the message shows
    that can change) differs; entries of objects gone from a listing are dropped."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[Hashable, T]] = {}

    def get(self, object_id: str, key: Hashable, build: Callable[[], T]) -> T:
        held = self._items.get(object_id)
        if held is not None and held[0] == key:
            return held[1]
        message = build()
        self._items[object_id] = (key, message)
        return message

    def prune(self, listed: int) -> None:
        """Drop everything once the cache holds far more than a full listing returned."""
        if len(self._items) > 2 * listed + 64:
            self._items.clear()
