"""Runtime-wide settings the use cases need (a value: each use case takes the whole)."""

from __future__ import annotations

from domain.model import Frozen
from domain.spec import NodeOptions


class Settings(Frozen):
    """Runtime-wide settings the use cases need."""

    runtime_name: str = "hexcri"
    runtime_version: str = "unknown"  # the composition root's: the package's version
    sandbox_image: str = "registry.k8s.io/pause:3.9"
    cgroup_driver: str = NodeOptions().cgroup_driver
    stop_kill_wait: float = 10.0  # seconds to wait for an exit after SIGKILL
    shm_size: int = 64 << 20  # the pod's /dev/shm, as containerd's default
    # The runtime handlers RunPodSandbox accepts: "" (the default) and containerd's name
    # for the same runc runtime.
    runtime_handlers: tuple[str, ...] = ("", "runc")
    node: NodeOptions = NodeOptions()
