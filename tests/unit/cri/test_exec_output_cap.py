"""Issue 11, item 5 on the memory fakes: ExecSync output is cut so that the reply always fits
in a CRI message (16 MiB, kubelet's limit), and a flood of output reaches the client as an OK
reply with the output cut and the exit code."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from adapters.cri.server import MAX_MESSAGE_BYTES, start_server, stop_server
from adapters.memory.backend import MemoryBackend
from domain.model import ExecResult
from domain.services.container_exec import fit_output
from ports.runtime import EXEC_OUTPUT_LIMIT
from tests.support.harness import Harness
from tests.unit.conftest import container, pod

FLOOD = 20_000_000


async def running(ctx: Harness) -> str:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    await ctx.image_pull.pull_image("busybox")
    cid = await ctx.container_create.create_container(sid, container(command=["sleep", "3600"]))
    await ctx.container_start.start_container(cid)
    return cid


@pytest.fixture
async def stub(ctx: Harness) -> AsyncIterator[cri_grpc.RuntimeServiceStub]:
    """The CRI server on the fakes, and a client taking messages as large as kubelet does."""
    directory = tempfile.mkdtemp(prefix="hexcri-cap-")
    socket = os.path.join(directory, "cri.sock")
    server = await start_server(ctx.uses, socket)
    options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
    try:
        async with grpc.aio.insecure_channel(f"unix://{socket}", options=options) as channel:
            yield cri_grpc.RuntimeServiceStub(channel)  # type: ignore[no-untyped-call]
    finally:
        await stop_server(server, 1.0)
        shutil.rmtree(directory, ignore_errors=True)


def test_the_largest_reply_fits_in_a_cri_message() -> None:
    reply = cri.ExecSyncResponse(
        stdout=bytes(EXEC_OUTPUT_LIMIT // 2),
        stderr=bytes(EXEC_OUTPUT_LIMIT - EXEC_OUTPUT_LIMIT // 2),
        exit_code=-(2**31),
    )
    assert reply.ByteSize() <= MAX_MESSAGE_BYTES


@pytest.mark.parametrize(
    ("out", "err", "kept"),
    [
        (10, 5, (10, 5)),  # fits: as is
        (30, 5, (25, 5)),  # a short stderr is kept whole
        (5, 30, (5, 25)),  # and so is a short stdout
        (30, 30, (15, 15)),  # two long ones: half each
        (30, 12, (18, 12)),
    ],
)
def test_fit_output_keeps_the_total_within_the_limit(
    out: int, err: int, kept: tuple[int, int]
) -> None:
    result = ExecResult(stdout=b"o" * out, stderr=b"e" * err, exit_code=3)
    fitted = fit_output(result, 30)
    assert (len(fitted.stdout), len(fitted.stderr)) == kept
    assert fitted.exit_code == 3
    assert fitted.stdout == result.stdout[: kept[0]] and fitted.stderr == result.stderr[: kept[1]]


async def test_a_flood_of_output_is_cut_by_the_use_case(ctx: Harness) -> None:
    cid = await running(ctx)
    result = await ctx.container_exec.exec_sync(cid, ["head", "-c", str(FLOOD), "/dev/zero"])
    assert result.exit_code == 0
    assert len(result.stdout) == EXEC_OUTPUT_LIMIT and not result.stderr.strip(b"\0")


async def test_a_flood_of_output_reaches_the_client(
    ctx: Harness, backend: MemoryBackend, stub: cri_grpc.RuntimeServiceStub
) -> None:
    cid = await running(ctx)
    command = ["sh", "-c", f"head -c {FLOOD} /dev/zero; echo done >&2; exit 3"]
    reply = await stub.ExecSync(cri.ExecSyncRequest(container_id=cid, cmd=command, timeout=60))
    assert reply.exit_code == 3
    assert reply.stderr == b"done\n"
    assert len(reply.stdout) + len(reply.stderr) == EXEC_OUTPUT_LIMIT
    assert reply.stdout == bytes(len(reply.stdout))
