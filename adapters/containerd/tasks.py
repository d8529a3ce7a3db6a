"""Containers and their tasks on containerd: create, start, signal, release, delete, update
resources, list and inspect.

A container is a writable snapshot of its image (prepared under a lease until the container
holds it) and a containerd container with its spec. Its task is made by `start`, as
containerd's CRI does, so that runc's refusals fail StartContainer; until then the task's
stdio waits in a container extension, so that a restart of hexcri between the two loses
nothing. A `start_soon` container (a pod's pause) has its task made within `create` instead.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import logging
import signal as signals
from collections.abc import Sequence
from typing import Any

from google.protobuf import any_pb2, field_mask_pb2

from adapters.containerd import api
from adapters.containerd.client import ContainerdClient
from adapters.containerd.content import LEASE_HEADER, Leases
from adapters.containerd.faults import crash_point
from adapters.containerd.fifo import FifoPaths
from adapters.containerd.users import resolve_user
from adapters.containerd.wire import (
    RESOURCES_TYPE,
    SPEC_TYPE,
    ignore_not_found,
    json_any,
    ts_ns,
)
from domain.errors import FailedPrecondition, HexcriError, Internal, NotFound, StillRunning
from domain.model import RuntimeContainer, TaskStatus
from domain.services.rollback import Rollback
from domain.spec.pipeline import resources as spec_resources
from ports.runtime import CreateRequest
from ports.streams import TerminalSize

log = logging.getLogger(__name__)

TASK_EXTENSION = "io.hexcri.task"  # the stdio of a task still to be made
TASK_TYPE = "io.hexcri/task-stdio"
CREATE_LEASE_EXPIRY = 600.0
KILL_WAIT = 30.0  # seconds a killed process is waited for before its deletion is tried

_TASK_STATUS = {
    api.task_types.Status.CREATED: TaskStatus.CREATED,
    api.task_types.Status.RUNNING: TaskStatus.RUNNING,
    api.task_types.Status.STOPPED: TaskStatus.STOPPED,
    api.task_types.Status.PAUSED: TaskStatus.RUNNING,
    api.task_types.Status.PAUSING: TaskStatus.RUNNING,
}


class ContainerTasks:
    """The container lifecycle of `ports.runtime.ContainerRuntime`."""

    def __init__(
        self,
        client: ContainerdClient,
        snapshotter: str,
        runtime: str,
        runtime_options: dict[str, Any],
    ) -> None:
        self._client = client
        self._snapshotter = snapshotter
        self._runtime = runtime
        self._runtime_options = runtime_options
        self._leases = Leases(client)

    # --- create / start ----------------------------------------------------------------------

    async def create(self, request: CreateRequest) -> None:
        """The writable snapshot, the user resolved from its files, the container, and the
        task of a `start_soon` one; undone on failure."""
        c = self._client
        lease = await self._leases.create("create", CREATE_LEASE_EXPIRY)
        leased = ((LEASE_HEADER, lease),)
        undo = Rollback()
        undo.push("delete the create lease", lambda: self._leases.delete(lease))
        try:
            prepared = await c.snapshots.Prepare(
                api.snapshots.PrepareSnapshotRequest(
                    snapshotter=self._snapshotter,
                    key=request.id,
                    parent=request.image.chain_id,
                ),
                metadata=leased,
            )
            undo.push("remove snapshot", lambda: self._remove_snapshot(request.id))
            spec = await resolve_user(request.spec, prepared.mounts)
            await c.containers.Create(
                api.containers.CreateContainerRequest(container=self._container(request, spec)),
                metadata=leased,
            )
            crash_point("container-created")
            if request.start_soon:
                undo.push("delete container", lambda: self._delete_container(request.id))
                undo.push("delete task", lambda: self._delete_task(request.id))
                stdio = FifoPaths.of(request.stdio)
                await self._create_task(request.id, prepared.mounts, stdio)
        except BaseException:
            await asyncio.shield(undo.run())
            raise
        self._leases.delete_soon(lease)  # the container holds its snapshot now

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
            spec=json_any(SPEC_TYPE, spec),
            snapshotter=self._snapshotter,
            snapshot_key=request.id,
        )
        if not request.start_soon:
            stdio = json_any(TASK_TYPE, FifoPaths.of(request.stdio).model_dump())
            container.extensions[TASK_EXTENSION].CopyFrom(stdio)
        return container

    async def _create_task(
        self, container_id: str, mounts: Sequence[Any], stdio: FifoPaths
    ) -> None:
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

    async def start(self, container_id: str) -> int:
        """Start the task; one still to be made is made first (and its extension cleared:
        from then on the task speaks for the container). Returns its pid."""
        tasks = self._client.tasks
        request = api.tasks.StartRequest(container_id=container_id)
        try:
            started = await tasks.Start(request)
        except NotFound:
            mounts, stdio = await self._pending_task(container_id)
            await self._create_task(container_id, mounts, stdio)
            started, _ = await asyncio.gather(tasks.Start(request), self._task_made(container_id))
        crash_point("task-started")
        return int(started.pid)

    async def _pending_task(self, container_id: str) -> tuple[builtins.list[Any], FifoPaths]:
        """The rootfs mounts and stdio of a container whose task is still to be made;
        NotFound for an unknown container or one whose task was made and released."""
        c = self._client
        got, mounts = await asyncio.gather(
            c.containers.Get(api.containers.GetContainerRequest(id=container_id)),
            c.snapshots.Mounts(
                api.snapshots.MountsRequest(snapshotter=self._snapshotter, key=container_id)
            ),
        )
        ext = got.container.extensions.get(TASK_EXTENSION)
        if ext is None or not ext.value:
            raise NotFound(f"task {container_id} not found")
        return builtins.list(mounts.mounts), FifoPaths.model_validate_json(ext.value)

    async def _task_made(self, container_id: str) -> None:
        try:
            await self._client.containers.Update(
                api.containers.UpdateContainerRequest(
                    container=api.containers.Container(id=container_id),
                    update_mask=field_mask_pb2.FieldMask(paths=[f"extensions.{TASK_EXTENSION}"]),
                )
            )
        except HexcriError:
            log.exception("cannot clear the pending task of container %s", container_id)

    # --- signal, release, delete ---------------------------------------------------------------

    async def kill(self, container_id: str, signal: int) -> None:
        await ignore_not_found(
            self._client.tasks.Kill(api.tasks.KillRequest(container_id=container_id, signal=signal))
        )
        crash_point("task-killed")

    async def reap(self, container_id: str) -> None:
        await self._delete_task(container_id)

    async def _delete_task(self, container_id: str) -> None:
        """Delete the task; none is success. containerd refuses a running one as a failed
        precondition or an internal error: StillRunning."""
        try:
            await self._client.tasks.Delete(api.tasks.DeleteTaskRequest(container_id=container_id))
        except NotFound:
            return
        except (FailedPrecondition, Internal) as err:
            raise StillRunning(str(err)) from err

    async def delete(self, container_id: str) -> None:
        """The task (killed and waited for if it still runs), the container, the snapshot."""
        try:
            await self._delete_task(container_id)
        except StillRunning:
            await self.kill_and_wait(container_id)
            await self._delete_task(container_id)
        crash_point("task-deleted")
        await self._delete_container(container_id)
        await self._remove_snapshot(container_id)

    async def kill_and_wait(self, container_id: str, exec_id: str = "") -> None:
        """SIGKILL the task's init (or exec `exec_id`) and wait for it to exit."""
        tasks = self._client.tasks
        waiting = asyncio.ensure_future(
            tasks.Wait(api.tasks.WaitRequest(container_id=container_id, exec_id=exec_id))
        )
        try:
            await ignore_not_found(
                tasks.Kill(
                    api.tasks.KillRequest(
                        container_id=container_id, exec_id=exec_id, signal=signals.SIGKILL
                    )
                )
            )
            await ignore_not_found(asyncio.wait_for(waiting, KILL_WAIT))
        finally:
            waiting.cancel()

    async def _delete_container(self, container_id: str) -> None:
        await ignore_not_found(
            self._client.containers.Delete(api.containers.DeleteContainerRequest(id=container_id))
        )

    async def _remove_snapshot(self, key: str) -> None:
        await ignore_not_found(
            self._client.snapshots.Remove(
                api.snapshots.RemoveSnapshotRequest(snapshotter=self._snapshotter, key=key)
            )
        )

    # --- resources, stdio ----------------------------------------------------------------------

    async def update_resources(self, container_id: str, resources: dict[str, Any]) -> None:
        """The spec first (a task made later reads it), then the task; the spec is put back
        if the task refuses, as containerd's CRI does."""
        c = self._client
        got = await c.containers.Get(api.containers.GetContainerRequest(id=container_id))
        before = got.container.spec
        spec = json.loads(before.value or b"{}")
        spec_resources(spec).update(resources)
        await self._put_spec(container_id, json_any(SPEC_TYPE, spec))
        try:
            await c.tasks.Update(
                api.tasks.UpdateTaskRequest(
                    container_id=container_id, resources=json_any(RESOURCES_TYPE, resources)
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

    async def process_spec(self, container_id: str) -> dict[str, Any]:
        """The `process` of the container's spec (what an exec starts from)."""
        got = await self._client.containers.Get(api.containers.GetContainerRequest(id=container_id))
        spec = json.loads(got.container.spec.value or b"{}")
        return dict(spec.get("process") or {})

    async def resize(self, container_id: str, size: TerminalSize, exec_id: str = "") -> None:
        """Resize the terminal of the task's init (or of exec `exec_id`)."""
        await self._client.tasks.ResizePty(
            api.tasks.ResizePtyRequest(
                container_id=container_id,
                exec_id=exec_id,
                width=max(0, size.width),
                height=max(0, size.height),
            )
        )

    async def close_stdin(self, container_id: str, exec_id: str = "") -> None:
        await self._client.tasks.CloseIO(
            api.tasks.CloseIORequest(container_id=container_id, exec_id=exec_id, stdin=True)
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
        exited_at=ts_ns(task.exited_at) if stopped else 0,
    )
