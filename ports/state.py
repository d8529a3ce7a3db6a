"""Durable state: what must survive a restart of hexcri."""

from __future__ import annotations

from typing import Protocol

from domain.model import Container, Sandbox


class StateStore(Protocol):
    async def put_sandbox(self, sandbox: Sandbox) -> None: ...

    async def delete_sandbox(self, sandbox_id: str) -> None: ...

    async def put_container(self, container: Container) -> None: ...

    async def delete_container(self, container_id: str) -> None: ...

    async def load(self) -> tuple[list[Sandbox], list[Container]]: ...
