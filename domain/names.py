"""Name reservation: one object per CRI name, AlreadyExists for a second."""

from domain.errors import AlreadyExists


class NameRegistry:
    """Maps reserved names to the ID that holds them."""

    def __init__(self) -> None:
        self._owners: dict[str, str] = {}

    def reserve(self, name: str, owner: str) -> None:
        held = self._owners.get(name)
        if held is not None and held != owner:
            raise AlreadyExists(f"name {name!r} is reserved for {held}")
        self._owners[name] = owner

    def release(self, name: str) -> None:
        self._owners.pop(name, None)

    def owner(self, name: str) -> str | None:
        return self._owners.get(name)
