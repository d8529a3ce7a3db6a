"""hexcri's own database: sandbox and container records as JSON, one transaction per write."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from domain.model import Container, Sandbox

SCHEMA = """
CREATE TABLE IF NOT EXISTS sandboxes (id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS containers (id TEXT PRIMARY KEY, record TEXT NOT NULL);
"""


class SqliteStateStore:
    """Implements StateStore; every call runs on one worker thread, off the event loop."""

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    async def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        def work() -> list[Any]:
            with self._db:  # one transaction: committed whole or not at all
                return self._db.execute(sql, params).fetchall()

        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    async def put_sandbox(self, sandbox: Sandbox) -> None:
        await self._run(
            "INSERT OR REPLACE INTO sandboxes VALUES (?, ?)",
            (sandbox.id, sandbox.model_dump_json()),
        )

    async def delete_sandbox(self, sandbox_id: str) -> None:
        await self._run("DELETE FROM sandboxes WHERE id = ?", (sandbox_id,))

    async def put_container(self, container: Container) -> None:
        await self._run(
            "INSERT OR REPLACE INTO containers VALUES (?, ?)",
            (container.id, container.model_dump_json()),
        )

    async def delete_container(self, container_id: str) -> None:
        await self._run("DELETE FROM containers WHERE id = ?", (container_id,))

    async def load(self) -> tuple[list[Sandbox], list[Container]]:
        sandboxes = await self._run("SELECT record FROM sandboxes")
        containers = await self._run("SELECT record FROM containers")
        return (
            [Sandbox.model_validate_json(r) for (r,) in sandboxes],
            [Container.model_validate_json(r) for (r,) in containers],
        )

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._db.close()
