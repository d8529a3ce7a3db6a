"""Undo steps for use cases that create several things: run them all, newest first."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


class Rollback:
    """Collects undo callbacks (plain or async); `run` calls them in reverse, never raising."""

    def __init__(self) -> None:
        self._steps: list[tuple[str, Callable[[], object]]] = []

    def push(self, what: str, undo: Callable[[], object]) -> None:
        self._steps.append((what, undo))

    async def run(self) -> list[str]:
        """Run every step; returns the ones that failed (logged)."""
        failed: list[str] = []
        while self._steps:
            what, undo = self._steps.pop()
            try:
                result = undo()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("rollback: %s failed", what)
                failed.append(what)
        return failed
