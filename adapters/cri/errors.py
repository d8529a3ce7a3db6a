"""Domain errors → gRPC status codes, applied to every servicer method by one decorator."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import grpc
import pydantic

from domain.errors import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    HexcriError,
    Internal,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
    Unimplemented,
)

log = logging.getLogger(__name__)

STATUS_OF: dict[type[HexcriError], grpc.StatusCode] = {
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    Unimplemented: grpc.StatusCode.UNIMPLEMENTED,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Internal: grpc.StatusCode.INTERNAL,
}

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Servicer = Any
Unary = Callable[[Servicer, Req, grpc.aio.ServicerContext[Any, Any]], Awaitable[Resp]]
Streaming = Callable[[Servicer, Req, grpc.aio.ServicerContext[Any, Any]], AsyncIterator[Resp]]


MESSAGE_LIMIT = 2048  # a safety net: the domain's messages quote at most 100 characters


def _bounded(message: str) -> str:
    if len(message) <= MESSAGE_LIMIT:
        return message
    return f"{message[:MESSAGE_LIMIT]}… ({len(message)} characters)"


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status code and message a failed call answers with (and logs), never longer than
    about MESSAGE_LIMIT characters however long a value some message quotes."""
    if isinstance(exc, pydantic.ValidationError):
        return grpc.StatusCode.INVALID_ARGUMENT, _bounded(_validation_message(exc))
    for cls in type(exc).__mro__:
        code = STATUS_OF.get(cls)
        if code is not None:
            return code, _bounded(str(exc) or cls.__name__)
    return grpc.StatusCode.INTERNAL, _bounded(f"{type(exc).__name__}: {exc}")


def _validation_message(exc: pydantic.ValidationError) -> str:
    problems = [
        f"{'.'.join(str(p) for p in e['loc']) or exc.title}: {e['msg']}" for e in exc.errors()
    ]
    return "invalid request: " + "; ".join(problems)


async def abort(context: grpc.aio.ServicerContext[Any, Any], exc: Exception, rpc: str) -> NoReturn:
    """End the call with the status `exc` maps to; unexpected errors are logged in full."""
    code, message = status_of(exc)
    if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
        log.error("%s failed: %s", rpc, message, exc_info=exc)
    else:
        log.debug("%s: %s: %s", rpc, code.name, message)
    await context.abort(code, message)
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover


def unary(fn: Unary[Req, Resp]) -> Unary[Req, Resp]:
    """Wrap a unary servicer method so that any exception becomes a proper status."""

    @functools.wraps(fn)
    async def call(
        self: Servicer, request: Req, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Resp:
        try:
            return await fn(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await abort(context, exc, fn.__name__)

    return call


def streaming(fn: Streaming[Req, Resp]) -> Streaming[Req, Resp]:
    """Like `unary`, for server-streaming methods (async generators)."""

    @functools.wraps(fn)
    async def call(
        self: Servicer, request: Req, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Resp]:
        try:
            async for item in fn(self, request, context):
                yield item
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await abort(context, exc, fn.__name__)

    return call
