"""The container runtime: containers, tasks, exec, resources and stats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import Field

from domain.model import (
    ContainerStats,
    ExecResult,
    Frozen,
    Image,
    RuntimeContainer,
)
from ports.io import Stdio
from ports.streams import Streams, TerminalSize

# What ExecSync keeps of a command's output, stdout and stderr together: kubelet takes CRI
# messages of up to 16 MiB, and the reply's other fields and framing fit in the 4 KiB left.
EXEC_OUTPUT_LIMIT = 16 * 1024 * 1024 - 4096


class CreateRequest(Frozen):
    """Everything the runtime needs to create one container (a pause or an app container)."""

    id: str
    sandbox_id: str
    image: Image
    spec: dict[str, Any]
    labels: dict[str, str] = Field(default_factory=dict)
    stdio: Stdio = Stdio()
    # Started as soon as the caller's other steps end (a pod's pause container): the runtime
    # may do the work of `start` that can be done ahead, within `create`, so that it overlaps
    # those steps; the process's refusals then fail `create`.
    start_soon: bool = False


class ContainerRuntime(Protocol):
    async def create(self, request: CreateRequest) -> None:
        """Create the container (its rootfs, its spec, where its stdio goes); nothing runs yet
        and it is listed with its task CREATED. Leaves nothing on failure."""
        ...

    async def start(self, container_id: str) -> int:
        """Start the container's process; returns its pid. A refusal (the command is not in
        the image) fails here, as in containerd's CRI, unless the request was `start_soon`
        (then `create` failed). NotFound for an unknown container or a released task."""
        ...

    async def kill(self, container_id: str, signal: int) -> None:
        """Send `signal` to the task's init process; no error if it has already exited."""
        ...

    async def reap(self, container_id: str) -> None:
        """Release an exited task (its shim and stdio); the container stays. Idempotent.
        StillRunning when its process has not exited."""
        ...

    async def delete(self, container_id: str) -> None:
        """Delete task (killed first if it still runs), container and writable layer.
        Idempotent."""
        ...

    async def update_resources(self, container_id: str, resources: dict[str, Any]) -> None:
        """Set the container's limits to `resources`, OCI `linux.resources` objects (`cpu`,
        `memory`, `hugepageLimits`, `unified`) as the domain merged them: each replaces the
        spec's object of that name (the others, such as device rules, stay), so that a task
        started later gets them, and they are applied to the task if it runs. NotFound for an
        unknown container; an error for a task that has exited."""
        ...

    async def exec_sync(
        self,
        container_id: str,
        cmd: Sequence[str],
        timeout: float | None,
        limit: int = EXEC_OUTPUT_LIMIT,
    ) -> ExecResult:
        """Run `cmd` in the container and collect its output; DeadlineExceeded on timeout.
        Each stream keeps its first `limit` bytes; the rest is read and dropped, so that a
        command flooding its output costs no memory."""
        ...

    async def exec(self, container_id: str, cmd: Sequence[str], streams: Streams) -> int:
        """Run `cmd` in the container wired to the client's `streams` (stdin to EOF, output,
        terminal and its resizes); returns the exit code. Cancelling it kills the process."""
        ...

    async def resize(self, container_id: str, size: TerminalSize) -> None:
        """Resize the terminal of the container's own process (attach)."""
        ...

    async def close_stdin(self, container_id: str) -> None:
        """Close the stdin of the container's own process (attach of a `stdin_once` one)."""
        ...

    async def stats(self, container_id: str) -> ContainerStats: ...

    async def list(self) -> list[RuntimeContainer]:
        """Every container the runtime holds for us, with its task state (for recovery)."""
        ...

    async def inspect(self, container_id: str) -> RuntimeContainer:
        """One container and its task as the runtime sees them now (for reconciliation):
        task ABSENT when it has none, UNKNOWN when its shim does not answer in time;
        NotFound when the container is gone."""
        ...

    async def release_interrupted(self, before_ns: int) -> None:
        """Remove what calls cut by a crash of hexcri left, made before `before_ns` (the
        start of this process), so that nothing of a running call is touched: exec FIFOs
        (opened first, so that a shim blocked on them goes on), create and pull leases,
        and unfinished content ingests. Idempotent."""
        ...

    async def ready(self) -> bool:
        """Whether the runtime answers."""
        ...
