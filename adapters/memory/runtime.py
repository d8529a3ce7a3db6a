"""A container runtime in memory whose processes run a tiny shell language on asyncio.

Programs: `echo WORDS` (`>&2` writes to stderr), `true`, `false`, `exit N`, `sleep SECONDS`,
`cat` (stdin to stdout until EOF), `stty size` (the terminal's rows and columns),
`head -c COUNT /dev/zero` (a flood of output),
`sh -c "a; b; ..."` of those, and `sh` reading such lines from stdin; anything else runs
until it is killed, like a server or the pause process. As the container's init, those shell
programs have no signal handlers, so they ignore every signal but SIGKILL (as PID 1 does);
other programs exit on fatal signals.
Tasks go CREATED → RUNNING → STOPPED → (reaped) ABSENT, and each call refuses the states
containerd refuses, with the same domain errors.
Tests drive exits with `exit_container` and OOM kills with `oom_kill`.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import copy
import itertools
import shlex
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.memory.images import SNAPSHOTS_DIR
from adapters.memory.io import MemoryIO
from domain.errors import (
    AlreadyExists,
    DeadlineExceeded,
    Internal,
    NotFound,
    StillRunning,
    Unavailable,
)
from domain.logformat import Stream
from domain.model import (
    ContainerStats,
    ExecResult,
    RuntimeContainer,
    TaskExit,
    TaskOOM,
    TaskStatus,
)
from domain.spec import apply, with_resolved_user
from domain.spec.pipeline import resources as spec_resources
from ports.clock import Clock
from ports.runtime import EXEC_OUTPUT_LIMIT, CreateRequest
from ports.streams import Streams, TerminalSize

FATAL_SIGNALS = frozenset({1, 2, 3, 9, 15})
SIGKILL = 9
SHELL_PROGRAMS = frozenset({"sh", "echo", "true", "false", "exit", "sleep", "cat", "stty", "head"})
ZEROS_CHUNK = 64 * 1024
STDERR_REDIRECTS = frozenset({">&2", "1>&2"})
Emit = Callable[[tuple[Stream, bytes]], None]


SIMULATED_USAGE = 5 << 20
SIMULATED_INACTIVE_FILE = 1 << 20


@dataclass
class _Stdio:
    """What a process reads: its stdin (None: /dev/null) and its terminal, if it has one."""

    stdin: AsyncIterator[bytes] | None = None
    terminal: TerminalSize | None = None


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


@dataclass
class _Task:
    request: CreateRequest
    status: TaskStatus = TaskStatus.CREATED
    pid: int = 0
    started_ns: int = 0
    exit_code: int = 0
    exited_at: int = 0
    resources: dict[str, Any] = field(default_factory=dict)
    runner: asyncio.Task[None] | None = None
    output: list[tuple[Stream, bytes]] = field(default_factory=list)
    stdio: _Stdio = field(default_factory=_Stdio)


# every fake image's /etc/passwd and /etc/group: busybox's users and groups
IMAGE_PASSWD = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n" + (
    "nobody:x:65534:65534:nobody:/home:/bin/false\n"
)
IMAGE_GROUP = "root:x:0:\ndaemon:x:1:\nwheel:x:10:root\nnogroup:x:65534:\n"


class MemoryRuntime:
    """Implements ContainerRuntime and RuntimeEvents."""

    def __init__(self, clock: Clock, io: MemoryIO) -> None:
        self._clock = clock
        self._io = io
        self._tasks: dict[str, _Task] = {}
        self._pids = itertools.count(1000)
        self._subscribers: set[asyncio.Queue[TaskExit | TaskOOM]] = set()
        self.available = True
        # containers whose task does not answer (a stopped shim): `inspect` says UNKNOWN
        self.unresponsive: set[str] = set()
        # what `release_interrupted` was last asked to release (for tests)
        self.released_before = 0

    # --- ContainerRuntime -------------------------------------------------------------------

    async def create(self, request: CreateRequest) -> None:
        if request.id in self._tasks:
            raise AlreadyExists(f"container {request.id} already exists")
        spec = apply(request.spec, [with_resolved_user(IMAGE_PASSWD, IMAGE_GROUP)])
        self._tasks[request.id] = _Task(request=request.model_copy(update={"spec": spec}))

    async def start(self, container_id: str) -> int:
        task = self._get(container_id)
        if task.status == TaskStatus.ABSENT:
            raise NotFound(f"task {container_id} not found")
        if task.status != TaskStatus.CREATED:
            raise Internal(f"cannot start a {task.status.name.lower()} process")
        task.status = TaskStatus.RUNNING
        task.resources = copy.deepcopy(spec_resources(task.request.spec))
        task.pid = next(self._pids)
        task.started_ns = self._clock.now_ns()
        args = builtins.list(task.request.spec.get("process", {}).get("args", []))
        task.runner = asyncio.create_task(self._run(container_id, args))
        return task.pid

    async def kill(self, container_id: str, signal: int) -> None:
        task = self._tasks.get(container_id)
        if task is None or task.status != TaskStatus.RUNNING:
            return
        if signal == SIGKILL or (signal in FATAL_SIGNALS and not _is_shell(task)):
            self._finish(container_id, 128 + signal)

    async def reap(self, container_id: str) -> None:
        task = self._get_optional(container_id)
        if task is None or task.status in (TaskStatus.CREATED, TaskStatus.ABSENT):
            return
        if task.status == TaskStatus.RUNNING:
            raise StillRunning("failed to delete task: cannot delete a running process")
        task.status = TaskStatus.ABSENT
        task.pid = task.exit_code = task.exited_at = 0

    async def delete(self, container_id: str) -> None:
        self._finish(container_id, 128 + SIGKILL)  # a running task is killed first
        task = self._tasks.pop(container_id, None)
        if task is not None and task.runner is not None:
            task.runner.cancel()

    async def update_resources(self, container_id: str, resources: dict[str, Any]) -> None:
        task = self._get(container_id)
        if task.status == TaskStatus.STOPPED:
            raise Internal("cannot update a stopped container")
        spec_resources(task.request.spec).update(copy.deepcopy(resources))
        if task.status == TaskStatus.RUNNING:
            task.resources.update(copy.deepcopy(resources))

    async def exec_sync(
        self,
        container_id: str,
        cmd: Sequence[str],
        timeout: float | None,
        limit: int = EXEC_OUTPUT_LIMIT,
    ) -> ExecResult:
        task = self._with_task(container_id)
        if task.status == TaskStatus.STOPPED:
            raise Internal("cannot exec in a stopped state")
        kept = {Stream.STDOUT: bytearray(), Stream.STDERR: bytearray()}

        def collect(item: tuple[Stream, bytes]) -> None:  # the first `limit` bytes of each
            stream, data = item
            kept[stream] += data[: max(0, limit - len(kept[stream]))]

        try:
            code = await asyncio.wait_for(self._interpret(builtins.list(cmd), collect), timeout)
        except TimeoutError as exc:
            raise DeadlineExceeded(
                f"command {builtins.list(cmd)} timed out after {timeout}s"
            ) from exc
        return ExecResult(
            stdout=bytes(kept[Stream.STDOUT]), stderr=bytes(kept[Stream.STDERR]), exit_code=code
        )

    async def exec(self, container_id: str, cmd: Sequence[str], streams: Streams) -> int:
        task = self._with_task(container_id)
        if task.status == TaskStatus.STOPPED:
            raise Internal("cannot exec in a stopped state")
        output: asyncio.Queue[tuple[Stream, bytes] | None] = asyncio.Queue()
        stdio = _Stdio(
            stdin=streams.stdin, terminal=TerminalSize(width=0, height=0) if streams.tty else None
        )

        async def resize() -> None:
            if streams.resize is not None:
                async for size in streams.resize:
                    stdio.terminal = size

        async def forward() -> None:
            while (item := await output.get()) is not None:
                stream, data = item
                if streams.tty:
                    stream = Stream.STDOUT
                write = streams.stdout if stream == Stream.STDOUT else streams.stderr
                if write is not None:
                    await write(data)

        resizing = asyncio.ensure_future(resize())
        forwarding = asyncio.ensure_future(forward())
        try:
            code = await self._interpret(builtins.list(cmd), output.put_nowait, stdio)
            output.put_nowait(None)
            await forwarding
            return code
        finally:
            for helper in (resizing, forwarding):
                helper.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await helper

    async def resize(self, container_id: str, size: TerminalSize) -> None:
        task = self._with_task(container_id)
        if task.stdio.terminal is None:
            raise Internal(f"container {container_id} has no terminal")
        task.stdio.terminal = size

    async def close_stdin(self, container_id: str) -> None:
        """The shim's side: EOF reaches the process once hexcri's writer is closed too."""
        self._with_task(container_id)

    async def stats(self, container_id: str) -> ContainerStats:
        """A simulated sample: 1% of a core since the start, 5 MiB charged (1 MiB of it
        inactive file cache) within the memory limit, a page fault a millisecond, one process
        and a small writable layer."""
        task = self._with_task(container_id)
        now = self._clock.now_ns()
        running_ns = max(0, now - task.started_ns) if task.started_ns else 0
        limit = int((task.resources.get("memory") or {}).get("limit") or 0)
        usage = min(SIMULATED_USAGE, limit) if limit > 0 else SIMULATED_USAGE
        working_set = max(0, usage - SIMULATED_INACTIVE_FILE)
        return ContainerStats(
            container_id=container_id,
            timestamp=now,
            cpu_usage_core_ns=running_ns // 100,
            memory_working_set_bytes=working_set,
            memory_usage_bytes=usage,
            memory_limit_bytes=max(0, limit),
            memory_rss_bytes=working_set * 3 // 4,
            memory_page_faults=1000 + running_ns // 1_000_000,
            memory_major_page_faults=10,
            process_count=1,
            writable_layer_mountpoint=SNAPSHOTS_DIR,
            writable_layer_bytes=8192,
            writable_layer_inodes=2,
        )

    async def list(self) -> list[RuntimeContainer]:
        return [
            RuntimeContainer(
                id=cid,
                labels=t.request.labels,
                task=t.status,
                pid=t.pid,
                exit_code=t.exit_code,
                exited_at=t.exited_at,
            )
            for cid, t in self._tasks.items()
        ]

    async def inspect(self, container_id: str) -> RuntimeContainer:
        if not self.available:
            raise Unavailable("the runtime does not answer")
        t = self._get(container_id)
        if container_id in self.unresponsive:
            return RuntimeContainer(
                id=container_id, labels=t.request.labels, task=TaskStatus.UNKNOWN
            )
        return RuntimeContainer(
            id=container_id,
            labels=t.request.labels,
            task=t.status,
            pid=t.pid,
            exit_code=t.exit_code,
            exited_at=t.exited_at,
        )

    async def release_interrupted(self, before_ns: int) -> None:
        """Nothing of an interrupted call outlives the fake's process."""
        if not self.available:
            raise Unavailable("the runtime does not answer")
        self.released_before = before_ns

    async def ready(self) -> bool:
        return self.available

    # --- RuntimeEvents ------------------------------------------------------------------------

    async def subscribe(self) -> AsyncIterator[TaskExit | TaskOOM]:
        queue: asyncio.Queue[TaskExit | TaskOOM] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.discard(queue)

    # --- test controls ------------------------------------------------------------------------

    def exit_container(self, container_id: str, code: int) -> None:
        """Make a running container's process exit with `code`."""
        self._finish(container_id, code)

    def oom_kill(self, container_id: str) -> None:
        self._broadcast(TaskOOM(container_id=container_id))
        self._finish(container_id, 137)

    def resources_of(self, container_id: str) -> dict[str, Any]:
        """The resources the task runs with: its spec's at start, then every update."""
        return self._get(container_id).resources

    def spec_of(self, container_id: str) -> dict[str, object]:
        return self._get(container_id).request.spec

    def has(self, container_id: str) -> bool:
        return container_id in self._tasks

    # --- internals ----------------------------------------------------------------------------

    def _get(self, container_id: str) -> _Task:
        task = self._get_optional(container_id)
        if task is None:
            raise NotFound(f"container {container_id} not found in the runtime")
        return task

    def _get_optional(self, container_id: str) -> _Task | None:
        return self._tasks.get(container_id)

    def _with_task(self, container_id: str) -> _Task:
        """The container, which must have a task (started, not yet reaped)."""
        task = self._get(container_id)
        if task.status in (TaskStatus.CREATED, TaskStatus.ABSENT):
            raise NotFound(f"task {container_id} not found")
        return task

    def _broadcast(self, event: TaskExit | TaskOOM) -> None:
        for queue in self._subscribers:
            queue.put_nowait(event)

    def _finish(self, container_id: str, code: int) -> None:
        task = self._tasks.get(container_id)
        if task is None or task.status != TaskStatus.RUNNING:
            return
        task.status = TaskStatus.STOPPED
        task.exit_code = code
        task.exited_at = self._clock.now_ns()
        self._io.end_output(container_id)
        if task.runner is not None and task.runner is not asyncio.current_task():
            task.runner.cancel()
        self._broadcast(
            TaskExit(
                container_id=container_id, exit_code=code, exited_at=task.exited_at, pid=task.pid
            )
        )

    async def _run(self, container_id: str, args: builtins.list[str]) -> None:
        def emit(item: tuple[Stream, bytes]) -> None:
            self._io.emit(container_id, *item)

        task = self._get(container_id)
        stdio = task.request.stdio
        task.stdio = _Stdio(
            stdin=self._io.read_stdin(container_id) if stdio.stdin else None,
            terminal=TerminalSize(width=0, height=0) if stdio.terminal else None,
        )
        try:
            code = await self._interpret(args, emit, task.stdio)
        except asyncio.CancelledError:
            return  # killed or deleted: the exit is already recorded
        await asyncio.sleep(0)  # let the start reply be recorded before the exit
        self._finish(container_id, code)

    async def _interpret(
        self, args: builtins.list[str], emit: Emit, stdio: _Stdio | None = None
    ) -> int:
        """Run `args`; returns the exit code (runs forever for unknown programs)."""
        try:
            return await self._words(args, emit, stdio or _Stdio())
        except _Exit as done:
            return done.code

    async def _line(self, line: str, emit: Emit, stdio: _Stdio) -> int:
        code = 0
        for part in line.replace("&&", ";").split(";"):
            words = shlex.split(part)
            if words:
                code = await self._words(words, emit, stdio)
        return code

    async def _words(self, args: builtins.list[str], emit: Emit, stdio: _Stdio) -> int:
        if not args:
            return 0
        program = args[0].rsplit("/", 1)[-1]
        if program == "sh" and len(args) >= 3 and args[1] == "-c":
            return await self._line(args[2], emit, stdio)
        if program == "sh" and len(args) == 1:
            return await self._shell(emit, stdio)
        if program == "cat" and len(args) == 1:
            if stdio.stdin is not None:
                async for chunk in stdio.stdin:
                    emit((Stream.STDOUT, chunk))
            return 0
        if program == "stty" and args[1:] == ["size"]:
            if stdio.terminal is None:
                emit((Stream.STDERR, b"stty: standard input: Not a tty\n"))
                return 1
            emit((Stream.STDOUT, f"{stdio.terminal.height} {stdio.terminal.width}\n".encode()))
            return 0
        if program == "echo":
            words = [w for w in args[1:] if w not in STDERR_REDIRECTS]
            stream = Stream.STDERR if len(words) < len(args) - 1 else Stream.STDOUT
            emit((stream, (" ".join(words) + "\n").encode()))
            return 0
        if program == "head" and args[1:2] == ["-c"] and args[3:] == ["/dev/zero"]:
            return await _zeros(int(args[2]), emit)
        if program == "true":
            return 0
        if program == "false":
            return 1
        if program == "exit":
            raise _Exit(int(args[1]) if len(args) > 1 else 0)
        if program == "sleep":
            await asyncio.sleep(float(args[1]) if len(args) > 1 else 0)
            return 0
        await asyncio.Event().wait()
        return 0

    async def _shell(self, emit: Emit, stdio: _Stdio) -> int:
        """`sh` with no command: run the lines read from stdin until EOF or `exit`."""
        code, pending = 0, b""
        if stdio.stdin is None:
            return 0
        async for chunk in stdio.stdin:
            if stdio.terminal is not None:
                emit((Stream.STDOUT, chunk.replace(b"\n", b"\r\n")))  # the terminal echoes
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                code = await self._line(line.decode(errors="replace"), emit, stdio)
        return code


async def _zeros(count: int, emit: Emit) -> int:
    """`head -c COUNT /dev/zero`: COUNT zero bytes, a pipe's worth at a time."""
    chunk = bytes(ZEROS_CHUNK)
    while count > 0:
        emit((Stream.STDOUT, chunk[:count]))
        count -= ZEROS_CHUNK
        await asyncio.sleep(0)
    return 0


def _is_shell(task: _Task) -> bool:
    """Whether the task's init is one of the shell programs (which have no signal handlers)."""
    args = task.request.spec.get("process", {}).get("args") or [""]
    return str(args[0]).rsplit("/", 1)[-1] in SHELL_PROGRAMS
