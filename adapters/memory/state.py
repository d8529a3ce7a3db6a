"""Durable state in memory, serialised as JSON so a 'restart' really reloads it."""

from __future__ import annotations

from domain.model import Container, Sandbox


class MemoryStateStore:
    """Implements StateStore; keeps records as JSON text, like the sqlite adapter."""

    def __init__(self) -> None:
        self.sandboxes: dict[str, str] = {}
        self.containers: dict[str, str] = {}

    async def put_sandbox(self, sandbox: Sandbox) -> None:
        self.sandboxes[sandbox.id] = sandbox.model_dump_json()

    async def delete_sandbox(self, sandbox_id: str) -> None:
        self.sandboxes.pop(sandbox_id, None)

    async def put_container(self, container: Container) -> None:
        self.containers[container.id] = container.model_dump_json()

    async def delete_container(self, container_id: str) -> None:
        self.containers.pop(container_id, None)

    async def load(self) -> tuple[list[Sandbox], list[Container]]:
        return (
            [Sandbox.model_validate_json(s) for s in self.sandboxes.values()],
            [Container.model_validate_json(c) for c in self.containers.values()],
        )
