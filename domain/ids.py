"""64-hex object IDs and unique-prefix lookup, as crictl relies on."""

import bisect
import secrets

from domain.errors import InvalidArgument, NotFound
from domain.validation.text import quote

ID_LENGTH = 64
_HEX = frozenset("0123456789abcdef")


def new_id() -> str:
    """A fresh random 64-hex ID."""
    return secrets.token_hex(ID_LENGTH // 2)


def is_full_id(value: str) -> bool:
    """Whether `value` has the shape of a full ID."""
    return len(value) == ID_LENGTH and set(value) <= _HEX


class IdIndex:
    """A sorted set of IDs answering unique-prefix lookups in O(log n)."""

    def __init__(self, kind: str) -> None:
        self._kind = kind
        self._ids: list[str] = []

    def add(self, id_: str) -> None:
        i = bisect.bisect_left(self._ids, id_)
        if i == len(self._ids) or self._ids[i] != id_:
            self._ids.insert(i, id_)

    def discard(self, id_: str) -> None:
        i = bisect.bisect_left(self._ids, id_)
        if i < len(self._ids) and self._ids[i] == id_:
            del self._ids[i]

    def __contains__(self, id_: object) -> bool:
        if not isinstance(id_, str):
            return False
        i = bisect.bisect_left(self._ids, id_)
        return i < len(self._ids) and self._ids[i] == id_

    def __len__(self) -> int:
        return len(self._ids)

    def matching(self, prefix: str) -> list[str]:
        """Every ID starting with `prefix`."""
        i = bisect.bisect_left(self._ids, prefix)
        out: list[str] = []
        while i < len(self._ids) and self._ids[i].startswith(prefix):
            out.append(self._ids[i])
            i += 1
        return out

    def resolve(self, prefix: str) -> str:
        """The one ID starting with `prefix`; NotFound if none, InvalidArgument if several."""
        if not prefix:
            raise InvalidArgument(f"{self._kind} ID must not be empty")
        i = bisect.bisect_left(self._ids, prefix)
        if i == len(self._ids) or not self._ids[i].startswith(prefix):
            raise NotFound(f"{self._kind} {quote(prefix)} not found")
        if i + 1 < len(self._ids) and self._ids[i + 1].startswith(prefix):
            raise InvalidArgument(f"{self._kind} ID prefix {quote(prefix)} is ambiguous")
        return self._ids[i]
