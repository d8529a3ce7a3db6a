"""Undecodable request bodies answer InvalidArgument, not grpc-python's UNKNOWN.

grpc-python deserializes a request before the servicer runs and answers UNKNOWN when the
deserializer raises. Here each method's deserializer returns an `Undecodable` marker
instead, and the method's behaviour aborts the call with INVALID_ARGUMENT when it gets one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import grpc

Ctx: TypeAlias = grpc.aio.ServicerContext[Any, Any]
AddServicer = Callable[[Any, Any], None]


@dataclass(frozen=True, slots=True)
class Undecodable:
    """What a request body that is not a valid message deserializes to."""

    method: str
    error: str


def _deserializer(method: str, parse: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def deserialize(data: bytes) -> Any:
        try:
            return parse(data)
        except Exception as exc:  # protobuf's DecodeError, or whatever a parser raises
            return Undecodable(method, f"{type(exc).__name__}: {exc}"[:200])

    return deserialize


async def _refuse(request: Undecodable, context: Ctx) -> None:
    await context.abort(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"{request.method}: the request body is not a valid message ({request.error})",
    )


def _unary(behavior: Callable[[Any, Ctx], Awaitable[Any]]) -> Callable[[Any, Ctx], Awaitable[Any]]:
    async def call(request: Any, context: Ctx) -> Any:
        if isinstance(request, Undecodable):
            await _refuse(request, context)
        return await behavior(request, context)

    return call


def _stream(
    behavior: Callable[[Any, Ctx], AsyncIterator[Any]],
) -> Callable[[Any, Ctx], AsyncIterator[Any]]:
    async def call(request: Any, context: Ctx) -> AsyncIterator[Any]:
        if isinstance(request, Undecodable):
            await _refuse(request, context)
        async for item in behavior(request, context):
            yield item

    return call


def guarded(method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """`handler` with a deserializer that never raises (unary requests only, as the CRI)."""
    deserialize = _deserializer(method, handler.request_deserializer)
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            _unary(handler.unary_unary),
            request_deserializer=deserialize,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            _stream(handler.unary_stream),
            request_deserializer=deserialize,
            response_serializer=handler.response_serializer,
        )
    return handler


class _Collect:
    """Stands in for the server while a generated `add_*_to_server` registers handlers."""

    def __init__(self) -> None:
        self.services: dict[str, dict[str, grpc.RpcMethodHandler]] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        """Ignored: the same handlers come again through add_registered_method_handlers."""

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        self.services[service] = handlers


def add_guarded(add: AddServicer, servicer: Any, server: grpc.aio.Server) -> None:
    """Register `servicer` as the generated `add` would, every method guarded."""
    collected = _Collect()
    add(servicer, collected)
    for service, handlers in collected.services.items():
        safe = {name: guarded(f"/{service}/{name}", h) for name, h in handlers.items()}
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, safe),))
        server.add_registered_method_handlers(service, safe)
