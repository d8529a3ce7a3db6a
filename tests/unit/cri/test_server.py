"""The unix-socket server: permissions, stale sockets, graceful stop; error → status mapping."""

from __future__ import annotations

import asyncio
import logging
import os
import socket as sockets
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import pydantic
import pytest
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from adapters.cri.errors import status_of
from adapters.cri.server import start_server, stop_server
from domain import errors
from domain.model import SandboxMetadata
from tests.support.harness import Harness
from tests.unit.cri.conftest import Client, code_of, container_config, pod_config


def exists(path: str) -> bool:
    return Path(path).exists()


def write(path: str, text: str) -> None:
    Path(path).write_text(text)


def read(path: str) -> str:
    return Path(path).read_text()


@pytest.fixture
def socket_dir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="hexcri-srv-") as directory:
        yield directory


async def test_socket_is_0660_in_made_parents_and_removed_on_stop(
    ctx: Harness, socket_dir: str
) -> None:
    path = os.path.join(socket_dir, "a", "b", "cri.sock")
    server = await start_server(ctx.uses, path)
    try:
        mode = os.stat(path).st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o660
        async with grpc.aio.insecure_channel(f"unix://{path}") as channel:
            runtime = cri_grpc.RuntimeServiceStub(channel)  # type: ignore[no-untyped-call]
            assert (await runtime.Version(cri.VersionRequest())).runtime_name == "hexcri"
    finally:
        await stop_server(server, 1.0)
    assert not exists(path)


async def test_stale_socket_is_replaced_other_files_are_not(ctx: Harness, socket_dir: str) -> None:
    path = os.path.join(socket_dir, "cri.sock")
    stale = sockets.socket(sockets.AF_UNIX)
    stale.bind(path)
    stale.close()  # the file stays behind, as after a kill -9
    server = await start_server(ctx.uses, path)
    await stop_server(server, 1.0)

    write(path, "not a socket")
    with pytest.raises(FileExistsError):
        await start_server(ctx.uses, path)
    assert read(path) == "not a socket"


async def test_in_flight_calls_finish_within_the_grace(client: Client, ctx: Harness) -> None:
    sid = (
        await client.runtime.RunPodSandbox(
            cri.RunPodSandboxRequest(config=pod_config("p", client.logs))
        )
    ).pod_sandbox_id
    await client.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image="busybox")))
    cid = (
        await client.runtime.CreateContainer(
            cri.CreateContainerRequest(
                pod_sandbox_id=sid, config=container_config("c", ["sleep", "600"])
            )
        )
    ).container_id
    await client.runtime.StartContainer(cri.StartContainerRequest(container_id=cid))

    # a second server on the same context; the call is in flight when the stop begins
    path = os.path.join(os.path.dirname(client.socket), "second.sock")
    server = await start_server(ctx.uses, path)
    async with grpc.aio.insecure_channel(f"unix://{path}") as channel:
        runtime = cri_grpc.RuntimeServiceStub(channel)  # type: ignore[no-untyped-call]
        call = runtime.ExecSync(
            cri.ExecSyncRequest(container_id=cid, cmd=["sh", "-c", "sleep 0.3; echo ok"])
        )
        await asyncio.sleep(0.1)
        stopping = asyncio.create_task(stop_server(server, 30.0))
        result = await call
        await stopping
    assert result.stdout == b"ok\n"
    assert not exists(path)


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (errors.NotFound("x"), grpc.StatusCode.NOT_FOUND),
        (errors.AlreadyExists("x"), grpc.StatusCode.ALREADY_EXISTS),
        (errors.InvalidArgument("x"), grpc.StatusCode.INVALID_ARGUMENT),
        (errors.FailedPrecondition("x"), grpc.StatusCode.FAILED_PRECONDITION),
        (errors.DeadlineExceeded("x"), grpc.StatusCode.DEADLINE_EXCEEDED),
        (errors.Unimplemented("x"), grpc.StatusCode.UNIMPLEMENTED),
        (errors.Unavailable("x"), grpc.StatusCode.UNAVAILABLE),
        (errors.ResourceExhausted("x"), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (errors.Internal("x"), grpc.StatusCode.INTERNAL),
        (RuntimeError("boom"), grpc.StatusCode.INTERNAL),
    ],
)
def test_status_of(exc: Exception, code: grpc.StatusCode) -> None:
    got, message = status_of(exc)
    assert got == code and ("x" in message or "boom" in message)


def test_validation_errors_are_invalid_arguments() -> None:
    with pytest.raises(pydantic.ValidationError) as err:
        SandboxMetadata(name="a", uid="b", namespace=3)  # type: ignore[arg-type]
    code, message = status_of(err.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "namespace" in message


async def test_unexpected_errors_are_internal_and_logged(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        async def ready(self) -> bool:
            raise RuntimeError("the runtime fell over")

    info = client.ctx.runtime_info  # the Status use case, given a runtime that fails
    object.__setattr__(info, "runtime", Broken())
    try:
        with (
            caplog.at_level(logging.ERROR, logger="adapters.cri.errors"),
            pytest.raises(grpc.aio.AioRpcError) as err,
        ):
            await client.runtime.Status(cri.StatusRequest())
    finally:
        object.__setattr__(info, "runtime", client.backend.runtime)
    assert err.value.code() == grpc.StatusCode.INTERNAL
    assert "the runtime fell over" in (err.value.details() or "")
    (record,) = [r for r in caplog.records if "Status failed" in r.getMessage()]
    assert record.exc_info is not None  # with its traceback
    # and the server still answers
    assert await code_of(client.runtime.ContainerStatus(cri.ContainerStatusRequest())) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
