"""Backends: the adapters behind every port, chosen by `settings.backend`."""

from __future__ import annotations

import os

from adapters.host.clock import SystemClock
from adapters.host.files import LocalSandboxFiles
from adapters.memory.backend import MemoryBackend
from adapters.store.sqlite import SqliteStateStore
from app.settings import Settings
from domain.services.context import Ports


def memory_ports(settings: Settings) -> Ports:
    """The CRI simulator: every port in memory except the clock and the log files."""
    return MemoryBackend(clock=SystemClock()).ports()


def containerd_ports(settings: Settings) -> Ports:
    """Real containerd, CNI, registries; durable state in sqlite."""
    raise NotImplementedError("the containerd backend is not wired in yet")


def state_store(settings: Settings) -> SqliteStateStore:
    return SqliteStateStore(os.path.join(settings.root_dir, "hexcri.db"))


def sandbox_files(settings: Settings) -> LocalSandboxFiles:
    return LocalSandboxFiles(os.path.join(settings.root_dir, "sandboxes"))
