"""Undecodable request bodies answer INVALID_ARGUMENT (grpc-python's default is UNKNOWN),
for unary and server-streaming methods alike; the server keeps serving."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri

from adapters.cri.errors import status_of
from adapters.cri.server import start_server, stop_server
from domain.errors import InvalidArgument
from tests.support.harness import Harness

GARBAGE = b"\x0a\xff\xff\xff\xff\xff"  # field 1, a length that runs past the end


@pytest.fixture
async def channel(ctx: Harness) -> AsyncIterator[grpc.aio.Channel]:
    with tempfile.TemporaryDirectory(prefix="hexcri-dec-") as directory:
        path = os.path.join(directory, "cri.sock")
        server = await start_server(ctx.uses, path)
        try:
            async with grpc.aio.insecure_channel(f"unix://{path}") as ch:
                yield ch
        finally:
            await stop_server(server, 1.0)


def raw_unary(ch: grpc.aio.Channel, method: str) -> grpc.aio.UnaryUnaryMultiCallable:
    return ch.unary_unary(method, request_serializer=None, response_deserializer=None)


@pytest.mark.parametrize(
    "method",
    [
        "/runtime.v1.RuntimeService/RunPodSandbox",
        "/runtime.v1.RuntimeService/CreateContainer",
        "/runtime.v1.RuntimeService/Version",
        "/runtime.v1.ImageService/PullImage",
    ],
)
async def test_undecodable_unary_request_is_invalid_argument(
    channel: grpc.aio.Channel, method: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await raw_unary(channel, method)(GARBAGE)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid message" in (caught.value.details() or "")
    version = raw_unary(channel, "/runtime.v1.RuntimeService/Version")
    reply = cri.VersionResponse.FromString(await version(cri.VersionRequest().SerializeToString()))
    assert reply.runtime_name == "hexcri"


async def test_undecodable_streaming_request_is_invalid_argument(
    channel: grpc.aio.Channel,
) -> None:
    call = channel.unary_stream(
        "/runtime.v1.RuntimeService/GetContainerEvents",
        request_serializer=None,
        response_deserializer=None,
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in call(GARBAGE):
            pass
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_valid_request_still_served(channel: grpc.aio.Channel) -> None:
    status = raw_unary(channel, "/runtime.v1.RuntimeService/Status")
    reply = cri.StatusResponse.FromString(await status(cri.StatusRequest().SerializeToString()))
    assert reply.status.conditions


def test_status_messages_are_bounded() -> None:
    code, message = status_of(InvalidArgument("x" * (1 << 20)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert len(message) < 2100 and message.endswith("(1048576 characters)")
    assert status_of(ValueError("short"))[1] == "ValueError: short"
