"""ExecSync and ReopenContainerLog: both need a running container."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from domain.errors import FailedPrecondition, InvalidArgument, NotFound
from domain.model import Container, ContainerState, ExecResult
from domain.services.locks import ObjectLocks
from domain.services.serial import holding
from domain.services.unit_of_work import PodRepository
from ports.io import ContainerIO
from ports.runtime import EXEC_OUTPUT_LIMIT, ContainerRuntime

log = logging.getLogger(__name__)


def fit_output(result: ExecResult, limit: int) -> ExecResult:
    """`result` with stdout and stderr cut to `limit` bytes together: a short stream is kept
    whole, and of two long ones each keeps at least half of `limit`."""
    out, err = len(result.stdout), len(result.stderr)
    if out + err <= limit:
        return result
    keep_out = min(out, max(limit - err, limit // 2))
    keep_err = min(err, limit - keep_out)
    log.info("exec output cut to %d bytes of stdout and %d of stderr", keep_out, keep_err)
    return ExecResult(
        stdout=result.stdout[:keep_out], stderr=result.stderr[:keep_err], exit_code=result.exit_code
    )


@dataclass(frozen=True)
class ContainerExec:
    pods: PodRepository
    locks: ObjectLocks
    runtime: ContainerRuntime
    io: ContainerIO

    def _running(self, container_id: str) -> Container:
        container = self.pods.containers.get(container_id)
        if container.state != ContainerState.RUNNING:
            raise FailedPrecondition(f"container {container.id} is not running")
        return container

    async def exec_sync(
        self,
        container_id: str,
        cmd: Sequence[str],
        timeout: int = 0,
        limit: int = EXEC_OUTPUT_LIMIT,
    ) -> ExecResult:
        """Run `cmd` in the container; a timeout of 0 waits for as long as it takes. The
        output is cut to `limit` bytes, stdout and stderr together, so that the reply always
        fits in a CRI message (containerd's CRI cuts each stream, and then fails to send a
        long reply).

        Not serialised with the container's other operations: a stop or removal must not
        wait for a command without a timeout; it kills the command instead."""
        if not cmd:
            raise InvalidArgument("exec command must not be empty")
        container = self._running(container_id)
        result = await self.runtime.exec_sync(container.id, cmd, timeout or None, limit)
        return fit_output(result, limit)

    async def reopen_container_log(self, container_id: str) -> None:
        """Serialised with the container's other operations (a removal closes its log)."""
        found = self.pods.containers.get(container_id)
        async with holding(self.locks, self.pods.containers, found) as container:
            if container is None:
                raise NotFound(f"container {container_id!r} not found")
            if container.state != ContainerState.RUNNING:
                raise FailedPrecondition(f"container {container.id} is not running")
            await self.io.reopen_log(container.id)
