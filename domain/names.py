"""Name reservation: one object per CRI name, AlreadyExists for a second; the names the
CRI gives sandboxes and containers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.errors import AlreadyExists

if TYPE_CHECKING:
    from domain.model import ContainerConfig, Sandbox


class NameRegistry:
    """Maps reserved names to the ID that holds them."""

    def __init__(self) -> None:
        self._owners: dict[str, str] = {}
        self._names: dict[str, str] = {}  # owner -> the name it holds

    def reserve(self, name: str, owner: str) -> None:
        held = self._owners.get(name)
        if held is not None and held != owner:
            raise AlreadyExists(f"name {name!r} is reserved for {held}")
        self._owners[name] = owner
        self._names[owner] = name

    def release(self, name: str) -> None:
        owner = self._owners.pop(name, None)
        if owner is not None and self._names.get(owner) == name:
            del self._names[owner]

    def release_owner(self, owner: str) -> None:
        """Release the name `owner` holds, if any."""
        name = self._names.pop(owner, None)
        if name is not None and self._owners.get(name) == owner:
            del self._owners[name]

    def owner(self, name: str) -> str | None:
        return self._owners.get(name)


def container_name(config: ContainerConfig, sandbox: Sandbox) -> str:
    """`name_sandbox-name_sandbox-namespace_sandbox-uid_attempt`."""
    m = sandbox.config.metadata
    return f"{config.metadata.name}_{m.name}_{m.namespace}_{m.uid}_{config.metadata.attempt}"
