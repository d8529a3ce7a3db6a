"""Exec, Attach and PortForward: validate the CRI request (it becomes a URL of the streaming
server), then serve it when the client connects to that URL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from domain.errors import FailedPrecondition, InvalidArgument, NotFound
from domain.model import Container, ContainerState, Sandbox, SandboxState
from domain.services.unit_of_work import PodRepository
from ports.io import ContainerIO
from ports.runtime import ContainerRuntime
from ports.streams import (
    AttachRequest,
    Connection,
    ExecRequest,
    PodDialer,
    PortForwardRequest,
    Streams,
    TerminalSize,
)

MAX_PORT = 65535


def _check_streams(tty: bool, stdin: bool, stdout: bool, stderr: bool) -> None:
    """As kubelet: some stream must be asked for; a terminal has no separate stderr."""
    if not (stdin or stdout or stderr):
        raise InvalidArgument("one of stdin, stdout, or stderr must be set")
    if tty and stderr:
        raise InvalidArgument("tty and stderr cannot both be true")


@dataclass(frozen=True)
class ContainerStream:
    pods: PodRepository
    runtime: ContainerRuntime
    io: ContainerIO

    def _running(self, container_id: str) -> Container:
        container = self.pods.containers.get(container_id)
        if container.state != ContainerState.RUNNING:
            raise FailedPrecondition(
                f"container {container.id} is in {container.state.name} state, not RUNNING"
            )
        return container

    def prepare_exec(
        self,
        container_id: str,
        cmd: Sequence[str],
        *,
        tty: bool = False,
        stdin: bool = False,
        stdout: bool = False,
        stderr: bool = False,
    ) -> ExecRequest:
        if not cmd:
            raise InvalidArgument("exec command must not be empty")
        _check_streams(tty, stdin, stdout, stderr)
        container = self._running(container_id)
        return ExecRequest(
            container_id=container.id,
            cmd=tuple(cmd),
            tty=tty,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
        )

    def prepare_attach(
        self,
        container_id: str,
        *,
        tty: bool = False,
        stdin: bool = False,
        stdout: bool = False,
        stderr: bool = False,
    ) -> AttachRequest:
        _check_streams(tty, stdin, stdout, stderr)
        container = self._running(container_id)
        return AttachRequest(
            container_id=container.id, tty=tty, stdin=stdin, stdout=stdout, stderr=stderr
        )

    def _ready(self, sandbox_id: str) -> Sandbox:
        sandbox = self.pods.sandboxes.get(sandbox_id)
        if sandbox.state != SandboxState.READY:
            raise FailedPrecondition(f"sandbox {sandbox.id} is not ready")
        return sandbox

    def prepare_port_forward(
        self, sandbox_id: str, ports: Sequence[int] = ()
    ) -> PortForwardRequest:
        for port in ports:
            if not 0 < port <= MAX_PORT:
                raise InvalidArgument(f"invalid port {port}")
        sandbox = self._ready(sandbox_id)
        return PortForwardRequest(sandbox_id=sandbox.id, ports=tuple(ports))

    async def exec_streaming(self, request: ExecRequest, streams: Streams) -> int:
        """Run the exec of `request` wired to the client's streams; returns its exit code."""
        container = self._running(request.container_id)
        return await self.runtime.exec(container.id, request.cmd, streams)

    async def attach(self, request: AttachRequest, streams: Streams) -> None:
        """Attach the client's streams to the container's own process until its output ends.

        As containerd's CRI: the client's stdin EOF closes the container's stdin for a
        `stdin_once` container without a terminal (the attach then lasts until the output ends),
        and detaches the client otherwise. Output of a terminal container is one stream."""
        container = self._running(request.container_id)
        runtime = self.runtime
        stdin = streams.stdin if container.config.stdin else None
        if stdin is not None and container.config.stdin_once and not container.config.tty:
            stdin = self._then_close(stdin, container.id)
        wired = Streams(
            stdin=stdin,
            stdout=streams.stdout,
            stderr=None if container.config.tty else streams.stderr,
            tty=container.config.tty,
        )
        resizing = None
        if streams.resize is not None and container.config.tty:
            resizing = asyncio.ensure_future(_resize_all(runtime, container.id, streams.resize))
        try:
            await self.io.attach(container.id, wired)
        finally:
            if resizing is not None:
                resizing.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await resizing

    async def _then_close(
        self, chunks: AsyncIterator[bytes], container_id: str
    ) -> AsyncIterator[bytes]:
        """The client's stdin, then the container's closed: hexcri's writer, then the runtime's."""
        async for chunk in chunks:
            yield chunk
        await self.io.close_stdin(container_id)
        with contextlib.suppress(NotFound):  # the process has exited meanwhile
            await self.runtime.close_stdin(container_id)

    async def dial_pod_port(
        self, dialer: PodDialer, request: PortForwardRequest, port: int
    ) -> Connection:
        """A connection to `port` on the pod's localhost (the node's, for a host-network pod)."""
        if not 0 < port <= MAX_PORT:
            raise InvalidArgument(f"invalid port {port}")
        sandbox = self._ready(request.sandbox_id)
        netns = "" if sandbox.config.host_network else sandbox.netns_path
        return await dialer.dial(netns, port)


async def _resize_all(
    runtime: ContainerRuntime, container_id: str, sizes: AsyncIterator[TerminalSize]
) -> None:
    async for size in sizes:
        await runtime.resize(container_id, size)
