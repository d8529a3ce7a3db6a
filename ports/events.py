"""Runtime events: task exits and OOM kills."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from domain.model import TaskExit, TaskOOM


class RuntimeEvents(Protocol):
    def subscribe(self) -> AsyncIterator[TaskExit | TaskOOM]:
        """Every task exit and OOM from now on; survives runtime restarts."""
        ...
