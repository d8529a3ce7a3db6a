"""The container runtime port on containerd: snapshots, containers, tasks, exec, metrics."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal as signals
import stat
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from google.protobuf import any_pb2, empty_pb2, field_mask_pb2

from adapters.containerd import api
from adapters.containerd.client import ContainerdClient
from adapters.containerd.faults import crash_point
from adapters.containerd.fifo import Fifo, FifoPaths, FifoReader, FifoWriter, make_fifos
from adapters.containerd.introspection import SnapshotterRoot
from domain.errors import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    HexcriError,
    Internal,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from domain.model import (
    ContainerStats,
    ExecResult,
    RuntimeContainer,
    TaskStatus,
)
from domain.spec import apply, needs_passwd, with_resolved_user
from domain.spec.pipeline import resources as spec_resources
from domain.spec.resources import merge_resources
from ports.runtime import EXEC_OUTPUT_LIMIT, CreateRequest
from ports.streams import Streams, TerminalSize

log = logging.getLogger(__name__)

SPEC_TYPE = "types.containerd.io/opencontainers/runtime-spec/1/Spec"
PROCESS_TYPE = "types.containerd.io/opencontainers/runtime-spec/1/Process"
RESOURCES_TYPE = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"
CGROUPS_V1_TYPE = "io.containerd.cgroups.v1.Metrics"
CGROUPS_V2_TYPE = "io.containerd.cgroups.v2.Metrics"
UNLIMITED_MEMORY = 1 << 62  # above it a cgroup's memory limit means none (as containerd)
TASK_EXTENSION = "io.hexcri.task"
TASK_TYPE = "io.hexcri/task-stdio"
LEASE_EXPIRE = "containerd.io/gc.expire"
LEASE_HEADER = "containerd-lease"
LEASE_PREFIX = "hexcri-"  # create leases (`hexcri-create-<id>`) and pull leases
INGEST_PREFIX = "hexcri-"  # content ingests of pulls (`adapters.containerd.content`)
EXEC_DRAIN = 2.0
CUT_EXEC_WAIT = 5.0  # seconds for ending the execs a crash cut, all together

_TASK_STATUS = {
    api.task_types.Status.CREATED: TaskStatus.CREATED,
    api.task_types.Status.RUNNING: TaskStatus.RUNNING,
    api.task_types.Status.STOPPED: TaskStatus.STOPPED,
    api.task_types.Status.PAUSED: TaskStatus.RUNNING,
    api.task_types.Status.PAUSING: TaskStatus.RUNNING,
}


def _any(type_url: str, value: Any) -> any_pb2.Any:
    return any_pb2.Any(type_url=type_url, value=json.dumps(value).encode())


def _ts_ns(ts: Any) -> int:
    return int(ts.seconds) * 1_000_000_000 + int(ts.nanos)


async def _ignore_not_found(call: Awaitable[Any]) -> None:
    with contextlib.suppress(NotFound):
        await call


class ContainerdRuntime:
    """Implements `ports.runtime.ContainerRuntime` on containerd's gRPC API."""

    def __init__(
        self,
        client: ContainerdClient,
        state_dir: str,
        *,
        snapshotter: str = "overlayfs",
        runtime: str = "io.containerd.runc.v2",
        runtime_options: dict[str, Any] | None = None,
        snapshotter_root: SnapshotterRoot | None = None,
    ) -> None:
        self._client = client
        self._state_dir = state_dir
        self._snapshotter = snapshotter
        self._snapshotter_root = snapshotter_root or SnapshotterRoot(client, snapshotter)
        self._runtime = runtime
        self._runtime_options = runtime_options or {}
        # rootfs mounts and stdio of created containers whose task `start` will make
        self._pending: dict[str, tuple[builtins.list[Any], FifoPaths]] = {}
        # tasks made by `create_task`, not started yet: whether their extension is to clear
        self._made: dict[str, bool] = {}
        self._after: set[asyncio.Future[None]] = set()  # work done after the answer

    # --- create / start / stop / delete ---------------------------------------------------

    async def create(self, request: CreateRequest) -> None:
        """The writable snapshot and the container; its task is made by `start`, as
        containerd's CRI does, so that runc's refusals (a command missing from the image)
        fail StartContainer. The task's stdio is kept in a container extension, cleared
        once the task exists, so a restart of hexcri between create and start loses nothing.
        """
        c = self._client
        undo: Undo = []
        lease = f"hexcri-create-{request.id}"
        await c.leases.Create(
            api.leases.CreateRequest(id=lease, labels={LEASE_EXPIRE: _expiry(600)})
        )
        leased = ((LEASE_HEADER, lease),)
        try:
            prepared = await c.snapshots.Prepare(
                api.snapshots.PrepareSnapshotRequest(
                    snapshotter=self._snapshotter,
                    key=request.id,
                    parent=request.image.chain_id,
                ),
                metadata=leased,
            )
            undo.append(("remove snapshot", lambda: self._remove_snapshot(request.id)))
            spec = await _resolve_user(request.spec, prepared.mounts)
            await c.containers.Create(
                api.containers.CreateContainerRequest(container=self._container(request, spec)),
                metadata=leased,
            )
            crash_point("container-created")
            stdio = FifoPaths.of(request.stdio)
            self._pending[request.id] = (builtins.list(prepared.mounts), stdio)
        except BaseException:
            await asyncio.shield(_run_undo(request.id, undo))
            await asyncio.shield(self._delete_lease(lease))
            raise
        # the container holds its snapshot now: the lease goes after the answer (or expires)
        task = asyncio.ensure_future(self._delete_lease(lease))
        self._after.add(task)
        task.add_done_callback(self._after.discard)

    async def _delete_lease(self, lease: str) -> None:
        with contextlib.suppress(Exception):  # an unreachable containerd: it expires
            await _ignore_not_found(self._client.leases.Delete(api.leases.DeleteRequest(id=lease)))

    def _container(self, request: CreateRequest, spec: dict[str, Any]) -> Any:
        runtime = api.containers.Container.Runtime(name=self._runtime)
        if self._runtime_options and api.runc_options is not None:
            options = api.runc_options.Options(**self._runtime_options)
            runtime.options.Pack(options, type_url_prefix="")
        image = request.image
        container = api.containers.Container(
            id=request.id,
            labels=request.labels,
            image=image.repo_tags[0] if image.repo_tags else image.id,
            runtime=runtime,
            spec=_any(SPEC_TYPE, spec),
            snapshotter=self._snapshotter,
            snapshot_key=request.id,
        )
        stdio = FifoPaths.of(request.stdio).model_dump()
        container.extensions[TASK_EXTENSION].CopyFrom(_any(TASK_TYPE, stdio))
        return container

    async def create_task(self, container_id: str) -> None:
        """Create the task (unless a crash left it made); `start` clears the pending-task
        extension beside starting it."""
        if container_id in self._made:
            return
        pending = self._pending.pop(container_id, None) or await self._pending_task(container_id)
        if pending is not None:
            mounts, stdio = pending
            # AlreadyExists: made before a restart of hexcri, not started yet
            with contextlib.suppress(AlreadyExists):
                await self._client.tasks.Create(
                    api.tasks.CreateTaskRequest(
                        container_id=container_id,
                        rootfs=mounts,
                        stdin=stdio.stdin,
                        stdout=stdio.stdout,
                        stderr=stdio.stderr,
                        terminal=stdio.terminal,
                    )
                )
        self._made[container_id] = pending is not None

    async def start(self, container_id: str) -> int:
        """Start the task, made first unless `create_task` made it; returns its pid."""
        await self.create_task(container_id)
        made_now = self._made.pop(container_id)
        started, _ = await asyncio.gather(
            self._client.tasks.Start(api.tasks.StartRequest(container_id=container_id)),
            self._task_made(container_id) if made_now else asyncio.sleep(0),
        )
        crash_point("task-started")
        return int(started.pid)

    async def _pending_task(self, container_id: str) -> tuple[builtins.list[Any], FifoPaths] | None:
        """The rootfs mounts and stdio of a container whose task is still to be made."""
        c = self._client
        got, mounts = await asyncio.gather(
            c.containers.Get(api.containers.GetContainerRequest(id=container_id)),
            c.snapshots.Mounts(
                api.snapshots.MountsRequest(snapshotter=self._snapshotter, key=container_id)
            ),
        )
        ext = got.container.extensions.get(TASK_EXTENSION)
        if ext is None or not ext.value:
            return None
        return builtins.list(mounts.mounts), FifoPaths.model_validate_json(ext.value)

    async def _task_made(self, container_id: str) -> None:
        """Clear the pending-task extension: from now on the task speaks for the container."""
        try:
            await self._client.containers.Update(
                api.containers.UpdateContainerRequest(
                    container=api.containers.Container(id=container_id),
                    update_mask=field_mask_pb2.FieldMask(paths=[f"extensions.{TASK_EXTENSION}"]),
                )
            )
        except HexcriError:
            log.exception("cannot clear the pending task of container %s", container_id)

    async def kill(self, container_id: str, signal: int) -> None:
        await _ignore_not_found(
            self._client.tasks.Kill(api.tasks.KillRequest(container_id=container_id, signal=signal))
        )
        crash_point("task-killed")

    async def reap(self, container_id: str) -> None:
        await _ignore_not_found(
            self._client.tasks.Delete(api.tasks.DeleteTaskRequest(container_id=container_id))
        )

    async def delete(self, container_id: str) -> None:
        self._pending.pop(container_id, None)
        self._made.pop(container_id, None)
        await self._delete_task(container_id)
        crash_point("task-deleted")
        await self._delete_container(container_id)
        await self._remove_snapshot(container_id)

    async def _delete_task(self, container_id: str) -> None:
        tasks = self._client.tasks
        request = api.tasks.DeleteTaskRequest(container_id=container_id)
        try:
            await tasks.Delete(request)
        except NotFound:
            return
        except (FailedPrecondition, Internal):  # still running: kill it, wait, then delete
            await self._kill_and_wait(container_id, "")
            await _ignore_not_found(tasks.Delete(request))

    async def _kill_and_wait(self, container_id: str, exec_id: str) -> None:
        tasks = self._client.tasks
        waiting = asyncio.ensure_future(
            tasks.Wait(api.tasks.WaitRequest(container_id=container_id, exec_id=exec_id))
        )
        try:
            await _ignore_not_found(
                tasks.Kill(
                    api.tasks.KillRequest(
                        container_id=container_id, exec_id=exec_id, signal=signals.SIGKILL
                    )
                )
            )
            with contextlib.suppress(NotFound):
                await asyncio.wait_for(waiting, 30)
        finally:
            waiting.cancel()

    async def _delete_container(self, container_id: str) -> None:
        await _ignore_not_found(
            self._client.containers.Delete(api.containers.DeleteContainerRequest(id=container_id))
        )

    async def _remove_snapshot(self, key: str) -> None:
        await _ignore_not_found(
            self._client.snapshots.Remove(
                api.snapshots.RemoveSnapshotRequest(snapshotter=self._snapshotter, key=key)
            )
        )

    # --- resources, exec, stats --------------------------------------------------------------

    async def update_resources(self, container_id: str, resources: dict[str, Any]) -> None:
        """The spec first (a task made later reads it), then the task; the spec is put back
        if the task refuses, as containerd's CRI does."""
        c = self._client
        got = await c.containers.Get(api.containers.GetContainerRequest(id=container_id))
        before = got.container.spec
        spec = json.loads(before.value or b"{}")
        merge_resources(spec_resources(spec), resources)
        await self._put_spec(container_id, _any(SPEC_TYPE, spec))
        try:
            await c.tasks.Update(
                api.tasks.UpdateTaskRequest(
                    container_id=container_id, resources=_any(RESOURCES_TYPE, resources)
                )
            )
        except NotFound:
            return  # no task yet: it will start with the updated spec
        except HexcriError:
            await self._put_spec(container_id, before)
            raise

    async def _put_spec(self, container_id: str, spec: any_pb2.Any) -> None:
        await self._client.containers.Update(
            api.containers.UpdateContainerRequest(
                container=api.containers.Container(id=container_id, spec=spec),
                update_mask=field_mask_pb2.FieldMask(paths=["spec"]),
            )
        )

    async def exec_sync(
        self,
        container_id: str,
        cmd: Sequence[str],
        timeout: float | None,
        limit: int = EXEC_OUTPUT_LIMIT,
    ) -> ExecResult:
        c = self._client
        got = await c.containers.Get(api.containers.GetContainerRequest(id=container_id))
        spec = json.loads(got.container.spec.value or b"{}")
        process = dict(spec.get("process") or {})
        process["args"] = builtins.list(cmd)
        process["terminal"] = False
        process.pop("consoleSize", None)
        exec_id = secrets.token_hex(8)
        workdir = self._exec_dir(container_id, exec_id)
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
                    spec=_any(PROCESS_TYPE, process),
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
                    await self._kill_and_wait(container_id, exec_id)
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
                await asyncio.shield(
                    _ignore_not_found(
                        c.tasks.DeleteProcess(
                            api.tasks.DeleteProcessRequest(
                                container_id=container_id, exec_id=exec_id
                            )
                        )
                    )
                )
            await asyncio.to_thread(shutil.rmtree, workdir, True)

    async def _process_spec(self, container_id: str, cmd: Sequence[str], tty: bool) -> Any:
        got = await self._client.containers.Get(api.containers.GetContainerRequest(id=container_id))
        spec = json.loads(got.container.spec.value or b"{}")
        process = dict(spec.get("process") or {})
        process["args"] = builtins.list(cmd)
        process["terminal"] = tty
        process.pop("consoleSize", None)
        return process

    async def exec(self, container_id: str, cmd: Sequence[str], streams: Streams) -> int:
        """An exec with FIFOs for the streams the client has (a terminal has no stderr):
        the client's stdin goes to the stdin FIFO, its EOF is CloseIO; resizes are
        ResizePty; the exit code comes from Wait once the output is drained."""
        c = self._client
        tty = streams.tty
        process = await self._process_spec(container_id, cmd, tty)
        exec_id = secrets.token_hex(8)
        workdir = self._exec_dir(container_id, exec_id)
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
                    spec=_any(PROCESS_TYPE, process),
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
                await asyncio.shield(self._end_exec(container_id, exec_id, exited))
            await asyncio.to_thread(shutil.rmtree, workdir, True)

    async def _end_exec(self, container_id: str, exec_id: str, exited: bool) -> None:
        if not exited:  # the client went away: the process goes too
            with contextlib.suppress(HexcriError):
                await self._kill_and_wait(container_id, exec_id)
        await _ignore_not_found(
            self._client.tasks.DeleteProcess(
                api.tasks.DeleteProcessRequest(container_id=container_id, exec_id=exec_id)
            )
        )

    async def _end_cut_exec(self, container_id: str, exec_id: str) -> None:
        log.info("ending exec %s of container %s, cut by a crash", exec_id, container_id)
        with contextlib.suppress(HexcriError):
            await self._end_exec(container_id, exec_id, exited=False)

    async def _copy_stdin(
        self, container_id: str, exec_id: str, streams: Streams, stdin: FifoWriter
    ) -> None:
        assert streams.stdin is not None
        async for chunk in streams.stdin:
            await stdin.write(chunk)
        stdin.close()
        await _ignore_not_found(
            self._client.tasks.CloseIO(
                api.tasks.CloseIORequest(container_id=container_id, exec_id=exec_id, stdin=True)
            )
        )

    async def _resize_all(self, container_id: str, exec_id: str, streams: Streams) -> None:
        assert streams.resize is not None
        async for size in streams.resize:
            await self._resize(container_id, exec_id, size)

    async def _resize(self, container_id: str, exec_id: str, size: TerminalSize) -> None:
        await self._client.tasks.ResizePty(
            api.tasks.ResizePtyRequest(
                container_id=container_id,
                exec_id=exec_id,
                width=max(0, size.width),
                height=max(0, size.height),
            )
        )

    async def resize(self, container_id: str, size: TerminalSize) -> None:
        await self._resize(container_id, "", size)

    async def close_stdin(self, container_id: str) -> None:
        await self._client.tasks.CloseIO(
            api.tasks.CloseIORequest(container_id=container_id, stdin=True)
        )

    async def stats(self, container_id: str) -> ContainerStats:
        """The task's cgroup metrics and the writable snapshot's usage (0 if unknown, as in
        containerd's CRI)."""
        c = self._client
        metrics: Any
        usage: Any
        metrics, usage, root = await asyncio.gather(
            c.tasks.Metrics(api.tasks.MetricsRequest(filters=[f"id=={container_id}"])),
            c.snapshots.Usage(
                api.snapshots.UsageRequest(snapshotter=self._snapshotter, key=container_id)
            ),
            self._snapshotter_root.get(),
            return_exceptions=True,
        )
        if isinstance(metrics, BaseException):
            raise metrics
        if not metrics.metrics:
            raise NotFound(f"container {container_id} has no running task")
        metric = metrics.metrics[0]
        layer_bytes = layer_inodes = 0
        if not isinstance(usage, BaseException):
            layer_bytes, layer_inodes = int(usage.size), int(usage.inodes)
        return ContainerStats(
            container_id=container_id,
            timestamp=_ts_ns(metric.timestamp),
            writable_layer_mountpoint="" if isinstance(root, BaseException) else root,
            writable_layer_bytes=layer_bytes,
            writable_layer_inodes=layer_inodes,
            **_decode_metrics(metric.data),
        )

    # --- listing -----------------------------------------------------------------------------

    async def list(self) -> builtins.list[RuntimeContainer]:
        c = self._client
        containers, tasks = await asyncio.gather(
            c.containers.List(api.containers.ListContainersRequest()),
            c.tasks.List(api.tasks.ListTasksRequest()),
        )
        by_id = {t.id: t for t in tasks.tasks}
        return [_runtime_container(x, by_id.get(x.id)) for x in containers.containers]

    async def inspect(self, container_id: str) -> RuntimeContainer:
        """containerd gives a shim 2 s to tell a task's state, then answers UNKNOWN."""
        c = self._client
        got = await c.containers.Get(api.containers.GetContainerRequest(id=container_id))
        try:
            task = await c.tasks.Get(api.tasks.GetRequest(container_id=container_id))
        except NotFound:
            return _runtime_container(got.container, None)
        return _runtime_container(got.container, task.process)

    def _exec_dir(self, container_id: str, exec_id: str) -> str:
        """An exec's FIFO directory, named so that a restart knows the exec it was for."""
        return os.path.join(self._state_dir, "exec", f"{container_id}.{exec_id}")

    async def release_interrupted(self, before_ns: int) -> None:
        """Exec FIFOs first (local, and they may hold a shim up), the cut execs' processes
        (killed: no one waits for them any more, and deleted from their shim), then leases
        and ingests."""
        cut = await asyncio.to_thread(
            _release_exec_fifos, os.path.join(self._state_dir, "exec"), before_ns
        )
        if cut:
            ends = asyncio.gather(*(self._end_cut_exec(c, e) for c, e in cut))
            with contextlib.suppress(TimeoutError):  # a shim that does not answer keeps it
                await asyncio.wait_for(ends, CUT_EXEC_WAIT)
        c = self._client
        statuses = await c.content.ListStatuses(api.content.ListStatusesRequest())
        for status in statuses.statuses:
            if status.ref.startswith(INGEST_PREFIX) and _ts_ns(status.started_at) < before_ns:
                log.info("aborting the interrupted ingest %s", status.ref)
                await _ignore_not_found(c.content.Abort(api.content.AbortRequest(ref=status.ref)))
        leases = await c.leases.List(api.leases.ListRequest())
        for lease in leases.leases:
            if lease.id.startswith(LEASE_PREFIX) and _ts_ns(lease.created_at) < before_ns:
                log.info("deleting the lease %s of an interrupted call", lease.id)
                await _ignore_not_found(
                    c.leases.Delete(api.leases.DeleteRequest(id=lease.id, sync=True))
                )  # sync: the garbage collector takes its content at once

    async def ready(self) -> bool:
        try:
            await self._client.version.Version(empty_pb2.Empty())
        except Unavailable:
            return False
        return True


def _runtime_container(container: Any, task: Any | None) -> RuntimeContainer:
    """A containerd container and its task (None: it has none) as the domain sees them."""
    if task is None:
        ext = container.extensions.get(TASK_EXTENSION)
        status = TaskStatus.CREATED if ext is not None and ext.value else TaskStatus.ABSENT
        return RuntimeContainer(id=container.id, labels=dict(container.labels), task=status)
    status = _TASK_STATUS.get(task.status, TaskStatus.UNKNOWN)
    stopped = status == TaskStatus.STOPPED
    return RuntimeContainer(
        id=container.id,
        labels=dict(container.labels),
        task=status,
        pid=int(task.pid),
        exit_code=int(task.exit_status) if stopped else 0,
        exited_at=_ts_ns(task.exited_at) if stopped else 0,
    )


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


def _decode_metrics(data: any_pb2.Any) -> dict[str, int]:
    """The `ContainerStats` fields of cgroup v1 or v2 metrics, as containerd's CRI reads them:
    working set = usage - inactive file (floored at 0); rss is v2's anon; a v1 limit above
    2^62 is no limit."""
    type_url = data.type_url.rsplit("/", 1)[-1]
    if type_url == CGROUPS_V1_TYPE:
        v1 = api.cgroups_v1.Metrics()
        v1.ParseFromString(data.value)
        memory = v1.memory
        usage = int(memory.usage.usage)
        return {
            "cpu_usage_core_ns": int(v1.cpu.usage.total),
            "memory_usage_bytes": usage,
            "memory_working_set_bytes": max(0, usage - int(memory.total_inactive_file)),
            "memory_limit_bytes": _limit(int(memory.usage.limit)),
            "memory_rss_bytes": int(memory.total_rss),
            "memory_page_faults": int(memory.total_pg_fault),
            "memory_major_page_faults": int(memory.total_pg_maj_fault),
            "process_count": int(v1.pids.current),
        }
    if type_url == CGROUPS_V2_TYPE:
        v2 = api.cgroups_v2.Metrics()
        v2.ParseFromString(data.value)
        memory2 = v2.memory
        usage = int(memory2.usage)
        return {
            "cpu_usage_core_ns": int(v2.cpu.usage_usec) * 1000,
            "memory_usage_bytes": usage,
            "memory_working_set_bytes": max(0, usage - int(memory2.inactive_file)),
            "memory_limit_bytes": _limit(int(memory2.usage_limit)),
            "memory_rss_bytes": int(memory2.anon),
            "memory_page_faults": int(memory2.pgfault),
            "memory_major_page_faults": int(memory2.pgmajfault),
            "process_count": int(v2.pids.current),
        }
    raise Internal(f"unknown metrics type {data.type_url!r}")


def _limit(value: int) -> int:
    """A memory limit, 0 for none (the kernel's "unlimited" is a huge page-rounded value)."""
    return 0 if value > UNLIMITED_MEMORY else value


# --- the image's users, read from the rootfs layers ------------------------------------------

MAX_SYMLINKS = 16


async def _resolve_user(spec: dict[str, Any], mounts: Sequence[Any]) -> dict[str, Any]:
    """`spec` with its `process.user` resolved from the rootfs's passwd and group.

    The files are read from the snapshot's layer directories (no mount, nothing run): the
    topmost layer holding a file wins, as overlayfs shows it. An image without the files
    resolves numeric users only; an unknown user or group is an InvalidArgument.
    """
    user = (spec.get("process") or {}).get("user") or {}
    if not user.get("username"):
        return spec
    layers = _layer_dirs(mounts)
    passwd, group = await asyncio.to_thread(
        lambda: (_read_rootfs(layers, "/etc/passwd"), _read_rootfs(layers, "/etc/group"))
    )
    if passwd is None and needs_passwd(spec):
        raise InvalidArgument(
            f"cannot resolve user {user['username'][:100]!r}: the image has no /etc/passwd"
        )
    return apply(spec, [with_resolved_user(passwd or "", group or "")])


def _layer_dirs(mounts: Sequence[Any]) -> builtins.list[str]:
    """The rootfs's layer directories, topmost first, from the snapshot's mounts."""
    dirs: builtins.list[str] = []
    for mount in mounts:
        if mount.type == "bind" or "bind" in mount.options or "rbind" in mount.options:
            dirs.append(mount.source)
            continue
        if mount.type != "overlay":
            raise Internal(f"cannot read the rootfs of a {mount.type!r} mount")
        upper = lower = ""
        for option in mount.options:
            key, _, value = option.partition("=")
            if key == "upperdir":
                upper = value
            elif key == "lowerdir":
                lower = value
        dirs += [d for d in (upper, *lower.split(":")) if d]
    return dirs


def _read_rootfs(layers: Sequence[str], path: str, depth: int = 0) -> str | None:
    """The text of `path` as the merged rootfs shows it; None when it is absent.

    Walks the layers topmost first, honouring whiteouts (0/0 character devices), opaque
    directories and files that shadow directories, and follows symlinks inside the rootfs.
    """
    parts = [p for p in path.split("/") if p]
    for layer in layers:
        opaque = False
        for i in range(1, len(parts) + 1):
            here = os.path.join(layer, *parts[:i])
            if not os.path.lexists(here):
                if opaque:
                    return None  # an opaque directory above hides the lower layers
                break
            if _is_whiteout(here):
                return None
            if os.path.islink(here):
                if depth >= MAX_SYMLINKS:
                    return None
                parent = "/" + "/".join(parts[: i - 1])
                target = os.path.normpath(os.path.join(parent, os.readlink(here)))
                rest = "/".join(parts[i:])
                return _read_rootfs(layers, os.path.join(target, rest), depth + 1)
            if i == len(parts):
                if not os.path.isfile(here):
                    return None
                with open(here, encoding="utf-8", errors="replace") as f:
                    return f.read()
            if not os.path.isdir(here):
                return None  # a file shadows the directory of lower layers
            opaque = opaque or _is_opaque(here)
    return None


def _is_whiteout(path: str) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def _expiry(seconds: int) -> str:
    """An RFC 3339 time `seconds` from now, for containerd's lease expiry label."""
    import datetime as dt

    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


Undo = builtins.list[tuple[str, Callable[[], Awaitable[Any]]]]


async def _run_undo(what: str, undo: Undo) -> None:
    for step, action in reversed(undo):
        try:
            await action()
        except Exception:
            log.exception("rollback of %s: %s failed", what, step)
