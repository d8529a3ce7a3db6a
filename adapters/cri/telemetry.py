"""Per-RPC telemetry at the CRI edge: Prometheus metrics, the RPC's log context, request bodies.

One grpc.aio server interceptor times every call (`hexcri_cri_request_duration_seconds`),
counts it by gRPC code (`hexcri_cri_requests_total`), keeps the calls in flight
(`hexcri_cri_requests_in_flight`) and sets `CURRENT`, the call's RPC name, pod and container
IDs and start, which the log filter of `app.logs` adds to every line written while it runs.
Request bodies are logged at debug level only, without registry credentials, cut to
`BODY_LIMIT` characters.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import text_format
from google.protobuf.message import Message
from prometheus_client import Counter, Gauge, Histogram

log = logging.getLogger("hexcri.rpc")

BODY_LIMIT = 300  # characters of a request body in a debug line
# CRI calls range from a map lookup (ListContainers) to an image pull (minutes)
BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

REQUEST_SECONDS = Histogram(
    "hexcri_cri_request_duration_seconds",
    "Time to answer a CRI call, by RPC",
    ["rpc"],
    buckets=BUCKETS,
)
REQUESTS = Counter(
    "hexcri_cri_requests", "CRI calls answered, by RPC and gRPC code", ["rpc", "code"]
)
IN_FLIGHT = Gauge("hexcri_cri_requests_in_flight", "CRI calls being answered, by RPC", ["rpc"])


@dataclass
class RpcCall:
    """The CRI call the current task serves."""

    rpc: str
    pod: str = ""
    container: str = ""
    started: float = 0.0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


CURRENT: contextvars.ContextVar[RpcCall | None] = contextvars.ContextVar("hexcri_rpc", default=None)


def _ids(message: Message, call: RpcCall) -> None:
    """Fill the call's pod and container IDs from a request or a response (an undecodable
    request body is no message: it has none)."""
    if not isinstance(message, Message):
        return
    fields = message.DESCRIPTOR.fields_by_name
    if not call.pod and "pod_sandbox_id" in fields:
        call.pod = str(getattr(message, "pod_sandbox_id"))  # noqa: B009
    if not call.container and "container_id" in fields:
        call.container = str(getattr(message, "container_id"))  # noqa: B009


def body(request: Message, limit: int = BODY_LIMIT) -> str:
    """The request as one line of protobuf text, without credentials, cut to `limit`."""
    if not isinstance(request, Message):
        return repr(request)[:limit]
    if "auth" in request.DESCRIPTOR.fields_by_name and request.HasField("auth"):
        clean = type(request)()
        clean.CopyFrom(request)
        clean.ClearField("auth")
        request = clean
    text = text_format.MessageToString(request, as_one_line=True)
    if len(text) > limit:
        return f"{text[:limit]}... ({len(text)} chars)"
    return text


def _code(context: grpc.aio.ServicerContext[Any, Any], failure: BaseException | None) -> str:
    if isinstance(failure, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED.name
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    if code:  # grpc.aio may keep the numeric value
        return next((c.name for c in grpc.StatusCode if c.value[0] == code), "UNKNOWN")
    return grpc.StatusCode.OK.name if failure is None else grpc.StatusCode.UNKNOWN.name


class _Series:
    """One RPC's metric children, looked up once."""

    def __init__(self, rpc: str) -> None:
        self.rpc = rpc
        self.seconds = REQUEST_SECONDS.labels(rpc)
        self.in_flight = IN_FLIGHT.labels(rpc)
        self.ok = REQUESTS.labels(rpc, "OK")


class _Recorder:
    """The bookkeeping of one call: start, request log, end."""

    def __init__(self, series: _Series, request: Message) -> None:
        self.series = series
        self.call = RpcCall(series.rpc, started=time.monotonic())
        _ids(request, self.call)
        self._token = CURRENT.set(self.call)
        series.in_flight.inc()
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s request: %s", series.rpc, body(request))

    def finish(
        self, context: grpc.aio.ServicerContext[Any, Any], failure: BaseException | None
    ) -> None:
        series, rpc = self.series, self.call.rpc
        code = _code(context, failure)
        series.seconds.observe(self.call.elapsed)
        series.in_flight.dec()
        if code == "OK":
            series.ok.inc()
            log.debug("%s done", rpc)
        else:
            REQUESTS.labels(rpc, code).inc()
            log.info("%s failed: %s", rpc, code)
        CURRENT.reset(self._token)


def _unary(rpc: str, inner: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    series = _Series(rpc)

    async def behaviour(request: Message, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        recorder = _Recorder(series, request)
        failure: BaseException | None = None
        try:
            response = await inner(request, context)
            if isinstance(response, Message):
                _ids(response, recorder.call)
            return response
        except BaseException as exc:
            failure = exc
            raise
        finally:
            recorder.finish(context, failure)

    return behaviour


def _streaming(rpc: str, inner: Callable[..., AsyncIterator[Any]]) -> Callable[..., Any]:
    series = _Series(rpc)

    async def behaviour(
        request: Message, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        recorder = _Recorder(series, request)
        failure: BaseException | None = None
        try:
            async for item in inner(request, context):
                yield item
        except BaseException as exc:
            failure = exc
            raise
        finally:
            recorder.finish(context, failure)

    return behaviour


class TelemetryInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Wraps the CRI's unary and server-streaming handlers with `_Recorder`, once per method
    (grpc.aio asks the interceptor at every call)."""

    def __init__(self) -> None:
        # method → (grpc's handler, ours): bounded by the services' methods
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = str(handler_call_details.method)
        known = self._wrapped.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        wrapped = self._wrap(method.rsplit("/", 1)[-1], handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    @staticmethod
    def _wrap(rpc: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _unary(rpc, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _streaming(rpc, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler
