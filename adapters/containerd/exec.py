"""Processes run in a container's task (ExecSync, Exec): FIFOs for their stdio under
`<state_dir>/exec/<container id>.<exec id>/`, named so that a restart knows the exec a
directory was for and can end the execs a crash cut."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import os
import secrets
import shutil
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from adapters.containerd import api
from adapters.containerd.client import ContainerdClient
from adapters.containerd.faults import crash_point
from adapters.containerd.fifo import Fifo, FifoReader, FifoWriter, make_fifos
from adapters.containerd.tasks import ContainerTasks
from adapters.containerd.wire import PROCESS_TYPE, ignore_not_found, json_any
from domain.errors import DeadlineExceeded, HexcriError
from domain.model import ExecResult
from ports.streams import Streams

log = logging.getLogger(__name__)

EXEC_DRAIN = 2.0  # seconds an exited process's output is waited for
CUT_EXEC_WAIT = 5.0  # seconds for ending the execs a crash cut, all together


class Execs:
    """The exec part of `ports.runtime.ContainerRuntime`."""

    def __init__(self, client: ContainerdClient, tasks: ContainerTasks, state_dir: str) -> None:
        self._client = client
        self._tasks = tasks
        self._root = os.path.join(state_dir, "exec")

    def _dir(self, container_id: str, exec_id: str) -> str:
        return os.path.join(self._root, f"{container_id}.{exec_id}")

    async def _process(self, container_id: str, cmd: Sequence[str], tty: bool) -> Any:
        """The container's process spec running `cmd` instead."""
        process = await self._tasks.process_spec(container_id)
        process["args"] = builtins.list(cmd)
        process["terminal"] = tty
        process.pop("consoleSize", None)
        return json_any(PROCESS_TYPE, process)

    async def exec_sync(
        self, container_id: str, cmd: Sequence[str], timeout: float | None, limit: int
    ) -> ExecResult:
        c = self._client
        process = await self._process(container_id, cmd, tty=False)
        exec_id = secrets.token_hex(8)
        workdir = self._dir(container_id, exec_id)
        await asyncio.to_thread(make_fifos, workdir, ("stdout", "stderr"))
        out = FifoReader(os.path.join(workdir, "stdout"), limit)
        err = FifoReader(os.path.join(workdir, "stderr"), limit)
        created = False
        try:
            await c.tasks.Exec(
                api.tasks.ExecProcessRequest(
                    container_id=container_id,
                    exec_id=exec_id,
                    stdout=out.path,
                    stderr=err.path,
                    spec=process,
                )
            )
            created = True
            waiting = asyncio.ensure_future(
                c.tasks.Wait(api.tasks.WaitRequest(container_id=container_id, exec_id=exec_id))
            )
            try:
                await c.tasks.Start(
                    api.tasks.StartRequest(container_id=container_id, exec_id=exec_id)
                )
                crash_point("exec-started")
                try:
                    reply = await asyncio.wait_for(asyncio.shield(waiting), timeout)
                except TimeoutError:
                    await self._tasks.kill_and_wait(container_id, exec_id)
                    raise DeadlineExceeded(
                        f"command {builtins.list(cmd)} timed out after {timeout}s"
                    ) from None
            finally:
                waiting.cancel()
            stdout, stderr = await asyncio.gather(out.drain(EXEC_DRAIN), err.drain(EXEC_DRAIN))
            return ExecResult(stdout=stdout, stderr=stderr, exit_code=int(reply.exit_status))
        finally:
            out.close()
            err.close()
            if created:
                await asyncio.shield(self._delete_process(container_id, exec_id))
            await asyncio.to_thread(shutil.rmtree, workdir, True)

    async def exec(self, container_id: str, cmd: Sequence[str], streams: Streams) -> int:
        """An exec with FIFOs for the streams the client has (a terminal has no stderr):
        the client's stdin goes to the stdin FIFO, its EOF is CloseIO; resizes are
        ResizePty; the exit code comes from Wait once the output is drained."""
        c = self._client
        tty = streams.tty
        process = await self._process(container_id, cmd, tty)
        exec_id = secrets.token_hex(8)
        workdir = self._dir(container_id, exec_id)
        # the shim wants both outputs of a process without a terminal (what the client did
        # not ask for is read and dropped)
        wanted = {"stdin": streams.stdin is not None, "stdout": True, "stderr": not tty}
        names = [n for n, on in wanted.items() if on]
        await asyncio.to_thread(make_fifos, workdir, names)
        paths = {n: os.path.join(workdir, n) if on else "" for n, on in wanted.items()}
        outputs = _ExecOutput(paths["stdout"], streams.stdout, paths["stderr"], streams.stderr)
        stdin = FifoWriter(paths["stdin"]) if paths["stdin"] else None
        helpers: builtins.list[asyncio.Future[None]] = []
        created = exited = False
        try:
            await c.tasks.Exec(
                api.tasks.ExecProcessRequest(
                    container_id=container_id,
                    exec_id=exec_id,
                    stdin=paths["stdin"],
                    stdout=paths["stdout"],
                    stderr=paths["stderr"],
                    terminal=tty,
                    spec=process,
                )
            )
            created = True
            waiting = asyncio.ensure_future(
                c.tasks.Wait(api.tasks.WaitRequest(container_id=container_id, exec_id=exec_id))
            )
            helpers.append(waiting)
            await c.tasks.Start(api.tasks.StartRequest(container_id=container_id, exec_id=exec_id))
            if stdin is not None and streams.stdin is not None:
                helpers.append(
                    asyncio.ensure_future(self._copy_stdin(container_id, exec_id, streams, stdin))
                )
            if tty and streams.resize is not None:
                helpers.append(
                    asyncio.ensure_future(self._resize_all(container_id, exec_id, streams))
                )
            reply = await asyncio.shield(waiting)
            exited = True
            await outputs.drain(EXEC_DRAIN)
            return int(reply.exit_status)
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            outputs.close()
            if stdin is not None:
                stdin.close()
            if created:
                await asyncio.shield(self._end(container_id, exec_id, exited))
            await asyncio.to_thread(shutil.rmtree, workdir, True)

    async def _end(self, container_id: str, exec_id: str, exited: bool) -> None:
        if not exited:  # the client went away: the process goes too
            with contextlib.suppress(HexcriError):
                await self._tasks.kill_and_wait(container_id, exec_id)
        await self._delete_process(container_id, exec_id)

    async def _delete_process(self, container_id: str, exec_id: str) -> None:
        await ignore_not_found(
            self._client.tasks.DeleteProcess(
                api.tasks.DeleteProcessRequest(container_id=container_id, exec_id=exec_id)
            )
        )

    async def _copy_stdin(
        self, container_id: str, exec_id: str, streams: Streams, stdin: FifoWriter
    ) -> None:
        assert streams.stdin is not None
        async for chunk in streams.stdin:
            await stdin.write(chunk)
        stdin.close()
        await ignore_not_found(self._tasks.close_stdin(container_id, exec_id))

    async def _resize_all(self, container_id: str, exec_id: str, streams: Streams) -> None:
        assert streams.resize is not None
        async for size in streams.resize:
            await self._tasks.resize(container_id, size, exec_id)

    async def release_cut(self, before_ns: int) -> None:
        """End the execs a crash of hexcri cut (their FIFO directories made before
        `before_ns`): FIFOs first (local, and they may hold a shim up), then their processes
        (killed: no one waits for them any more, and deleted from their shim)."""
        cut = await asyncio.to_thread(_release_exec_fifos, self._root, before_ns)
        if cut:
            ends = asyncio.gather(*(self._end_cut(c, e) for c, e in cut))
            with contextlib.suppress(TimeoutError):  # a shim that does not answer keeps it
                await asyncio.wait_for(ends, CUT_EXEC_WAIT)

    async def _end_cut(self, container_id: str, exec_id: str) -> None:
        log.info("ending exec %s of container %s, cut by a crash", exec_id, container_id)
        with contextlib.suppress(HexcriError):
            await self._end(container_id, exec_id, exited=False)


def _release_exec_fifos(root: str, before_ns: int) -> builtins.list[tuple[str, str]]:
    """Remove the FIFO directories of execs cut by a crash (made before `before_ns`);
    returns those execs, (container id, exec id).

    Each FIFO is opened first (read-write, non-blocking: it neither waits nor fails): a
    shim blocked opening its end goes on, and sees a closed pipe after.
    """
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    cut = []
    for name in names:
        directory = os.path.join(root, name)
        try:
            if os.lstat(directory).st_mtime_ns >= before_ns:
                continue  # an exec of this process
            for fifo in os.listdir(directory):
                with contextlib.suppress(OSError):
                    flags = os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC
                    os.close(os.open(os.path.join(directory, fifo), flags))
        except OSError:
            continue
        shutil.rmtree(directory, ignore_errors=True)
        container_id, dot, exec_id = name.partition(".")
        if dot and container_id and exec_id:
            cut.append((container_id, exec_id))
    return cut


class _ExecOutput:
    """An exec's stdout/stderr FIFOs, forwarded in order to the client's writers."""

    def __init__(
        self,
        stdout: str,
        write_out: Callable[[bytes], Awaitable[None]] | None,
        stderr: str,
        write_err: Callable[[bytes], Awaitable[None]] | None,
    ) -> None:
        self._fifos: builtins.list[Fifo] = []
        self._forwarders: builtins.list[asyncio.Task[None]] = []
        for path, write in ((stdout, write_out or _drop), (stderr, write_err or _drop)):
            if path:
                queue: asyncio.Queue[bytes] = asyncio.Queue()
                self._fifos.append(Fifo(path, queue.put_nowait, partial(queue.put_nowait, b"")))
                self._forwarders.append(asyncio.create_task(_forward(queue, write)))

    async def drain(self, timeout: float) -> None:
        await asyncio.gather(*(f.drain(timeout) for f in self._fifos))
        for fifo in self._fifos:
            fifo.close()
        await asyncio.gather(*self._forwarders)

    def close(self) -> None:
        for fifo in self._fifos:
            fifo.close()
        for task in self._forwarders:
            task.cancel()


async def _drop(data: bytes) -> None:
    return None


async def _forward(queue: asyncio.Queue[bytes], write: Callable[[bytes], Awaitable[None]]) -> None:
    while chunk := await queue.get():
        await write(chunk)
