"""CRI servicer fixtures: the real grpc.aio server on a temp unix socket over the memory fakes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from adapters.cri.server import start_server, stop_server
from adapters.memory.backend import MemoryBackend
from app.info import cri_config
from app.settings import Settings as AppSettings
from tests.support.harness import Harness


@dataclass
class Client:
    """CRI stubs on the socket, and the server's context and fakes for inspection."""

    runtime: Any
    images: Any
    ctx: Harness
    backend: MemoryBackend
    socket: str
    logs: str


@contextlib.asynccontextmanager
async def serve(ctx: Harness, backend: MemoryBackend) -> AsyncIterator[Client]:
    """The CRI server for `ctx` on a fresh temp socket, and a client connected to it."""
    # a short path: unix socket paths are limited to 108 bytes
    directory = tempfile.mkdtemp(prefix="hexcri-cri-")
    socket = os.path.join(directory, "run", "cri.sock")
    config = cri_config(AppSettings(backend="memory"), "http://127.0.0.1:10010", ctx.settings.node)
    server = await start_server(ctx.uses, socket, None, config)
    try:
        async with grpc.aio.insecure_channel(f"unix://{socket}") as channel:
            yield Client(
                runtime=cri_grpc.RuntimeServiceStub(channel),  # type: ignore[no-untyped-call]
                images=cri_grpc.ImageServiceStub(channel),  # type: ignore[no-untyped-call]
                ctx=ctx,
                backend=backend,
                socket=socket,
                logs=os.path.join(directory, "logs"),
            )
    finally:
        await stop_server(server, 1.0)
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.asynccontextmanager
async def fresh_client() -> AsyncIterator[Client]:
    """A new memory backend and context, with the exit watcher, served on a new socket."""
    backend = MemoryBackend()
    ctx = Harness(ports=backend.ports())
    watcher = asyncio.create_task(ctx.task_exits.watch_runtime_events())
    try:
        async with serve(ctx, backend) as client:
            yield client
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


@pytest.fixture
async def client(ctx: Harness, backend: MemoryBackend) -> AsyncIterator[Client]:
    async with serve(ctx, backend) as c:
        yield c


async def snapshot(c: Client) -> tuple[object, ...]:
    """Everything a request could change: stores, names, durable state and every fake."""
    ctx, b = c.ctx, c.backend
    return (
        sorted((s.id, s.state, s.ips) for s in ctx.sandboxes.all()),
        sorted((x.id, x.state, x.resources) for x in ctx.containers.all()),
        dict(ctx.names._owners),
        dict(b.state.sandboxes),
        dict(b.state.containers),
        sorted((t.id, t.task) for t in await b.runtime.list()),
        sorted(b.netns.paths),
        dict(b.network.allocations),
        {k: dict(v) for k, v in b.files.files.items()},
        sorted(b.io._pipes),
        sorted((i.id, i.repo_tags, i.repo_digests) for i in ctx.images.all()),
        sorted(b.images.images),
    )


def pod_config(name: str = "web", logs: str = "/tmp", **labels: str) -> cri.PodSandboxConfig:
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=name, uid=f"uid-{name}", namespace="unit"),
        hostname=name,
        log_directory=logs,
        labels=labels,
    )


def container_config(
    name: str, command: list[str], image: str = "busybox", **labels: str
) -> cri.ContainerConfig:
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=name),
        image=cri.ImageSpec(image=image),
        command=command,
        log_path=f"{name}.log",
        labels=labels,
    )


async def code_of(call: Any) -> grpc.StatusCode:
    """The status code a call fails with (the test fails if it succeeds)."""
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    code: grpc.StatusCode = err.value.code()
    return code
