"""An asyncio gRPC client for containerd: namespace metadata, error mapping, reconnects.

Every call made through a `ContainerdClient` stub carries the `containerd-namespace` metadata,
retries while containerd is unreachable (with backoff, for `reconnect_timeout` seconds, unary
calls only) and raises the domain's errors instead of `grpc.aio.AioRpcError`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from grpc import aio
from prometheus_client import Counter, Histogram

from adapters.containerd import api
from adapters.containerd.refusals import client_refusal
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

DEFAULT_ADDRESS = "/run/containerd/containerd.sock"
DEFAULT_NAMESPACE = "k8s.io"
NAMESPACE_HEADER = "containerd-namespace"
MAX_MESSAGE = 32 * 1024 * 1024

CALL_SECONDS = Histogram(
    "hexcri_containerd_request_duration_seconds",
    "Time of a unary call to containerd (retries included), by method",
    ["method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CALL_ERRORS = Counter(
    "hexcri_containerd_request_errors",
    "Failed calls to containerd, by method and gRPC code",
    ["method", "code"],
)

_ERRORS: dict[grpc.StatusCode, type[HexcriError]] = {
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
}


def map_error(err: aio.AioRpcError, address: str, method: str = "") -> HexcriError:
    """The domain error for a failed containerd call."""
    code = err.code()
    details = err.details() or code.name
    if code == grpc.StatusCode.UNAVAILABLE:
        return Unavailable(f"containerd at {address} is not reachable: {details}")
    where = f"containerd {method}: " if method else "containerd: "
    if "no space left on device" in details or "disk quota exceeded" in details:
        return ResourceExhausted(f"{where}the node's disk is full: {details}")
    if code == grpc.StatusCode.UNKNOWN:
        refused = client_refusal(details, where)
        if refused is not None:
            return refused
    return _ERRORS.get(code, Internal)(where + details)


def _method_name(details: aio.ClientCallDetails) -> str:
    method = details.method
    text = method.decode() if isinstance(method, bytes) else str(method)
    return text.rsplit(".", 1)[-1]


class _Interceptor:
    """Adds the namespace, maps errors to the domain's, retries unary calls on UNAVAILABLE.

    grpc.aio files each interceptor under one arity only, hence one subclass per arity.
    """

    def __init__(self, client: ContainerdClient) -> None:
        self._client = client

    def _details(self, details: aio.ClientCallDetails) -> aio.ClientCallDetails:
        metadata = aio.Metadata(*(details.metadata or ()))
        if NAMESPACE_HEADER not in metadata:
            metadata.add(NAMESPACE_HEADER, self._client.namespace)
        return aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )

    async def _unary(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        method = _method_name(details)
        with CALL_SECONDS.labels(method).time():
            return await self._retried(continuation, details, request, method)

    async def _retried(
        self, continuation: Callable[..., Any], details: Any, request: Any, method: str
    ) -> Any:
        details = self._details(details)
        budget = self._client.reconnect_timeout
        deadline = time.monotonic() + budget
        delay = 0.05
        while True:
            call = await continuation(details, request)
            try:
                return await call
            except aio.AioRpcError as err:
                if err.code() == grpc.StatusCode.UNAVAILABLE and time.monotonic() < deadline:
                    await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                    delay = min(delay * 2, 1.0)
                    continue
                CALL_ERRORS.labels(method, err.code().name).inc()
                raise map_error(err, self._client.address, method) from err

    async def _stream(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        # The call must start here: grpc.aio wraps the last call a continuation returned.
        details = self._details(details)
        call = await continuation(details, request)
        return self._responses(call, details)

    async def _responses(self, call: Any, details: Any) -> AsyncIterator[Any]:
        try:
            async for response in call:
                yield response
        except aio.AioRpcError as err:
            raise map_error(err, self._client.address, _method_name(details)) from err


class _UnaryUnary(_Interceptor, aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        return await self._unary(continuation, client_call_details, request)


class _StreamUnary(_Interceptor, aio.StreamUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request_iterator: Any
    ) -> Any:
        details = self._details(client_call_details)
        call = await continuation(details, request_iterator)
        try:
            return await call
        except aio.AioRpcError as err:
            raise map_error(err, self._client.address, _method_name(details)) from err


class _UnaryStream(_Interceptor, aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        return await self._stream(continuation, client_call_details, request)


class _StreamStream(_Interceptor, aio.StreamStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_stream(
        self, continuation: Callable[..., Any], client_call_details: Any, request_iterator: Any
    ) -> Any:
        return await self._stream(continuation, client_call_details, request_iterator)


class ContainerdClient:
    """A connection to one containerd, with a stub per service.

    The channel is made on first use, in the running event loop. `with_namespace` gives a
    client for another namespace sharing nothing but the address.
    """

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        namespace: str = DEFAULT_NAMESPACE,
        *,
        reconnect_timeout: float = 5.0,
    ) -> None:
        self.address = address.removeprefix("unix://")
        self.namespace = namespace
        self.reconnect_timeout = reconnect_timeout
        self._channel: aio.Channel | None = None
        self._stubs: dict[type, Any] = {}

    def with_namespace(self, namespace: str) -> ContainerdClient:
        return ContainerdClient(self.address, namespace, reconnect_timeout=self.reconnect_timeout)

    @property
    def channel(self) -> aio.Channel:
        if self._channel is None:
            self._channel = aio.insecure_channel(
                f"unix://{self.address}",
                options=[
                    ("grpc.max_receive_message_length", MAX_MESSAGE),
                    ("grpc.max_send_message_length", MAX_MESSAGE),
                    # Come back quickly after a containerd restart (default max is 120 s).
                    ("grpc.initial_reconnect_backoff_ms", 100),
                    ("grpc.min_reconnect_backoff_ms", 100),
                    ("grpc.max_reconnect_backoff_ms", 1000),
                    ("grpc.default_authority", "localhost"),
                ],
                interceptors=[
                    cls(self) for cls in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)
                ],
            )
        return self._channel

    def _stub(self, cls: type[Any]) -> Any:
        stub = self._stubs.get(cls)
        if stub is None:
            stub = self._stubs[cls] = cls(self.channel)
        return stub

    async def close(self) -> None:
        channel, self._channel = self._channel, None
        self._stubs.clear()
        if channel is not None:
            await channel.close()

    async def __aenter__(self) -> ContainerdClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- typed accessors -------------------------------------------------------------------

    @property
    def containers(self) -> api.containers_grpc.ContainersStub:
        return self._stub(api.containers_grpc.ContainersStub)  # type: ignore[no-any-return]

    @property
    def content(self) -> api.content_grpc.ContentStub:
        return self._stub(api.content_grpc.ContentStub)  # type: ignore[no-any-return]

    @property
    def diff(self) -> api.diff_grpc.DiffStub:
        return self._stub(api.diff_grpc.DiffStub)  # type: ignore[no-any-return]

    @property
    def events(self) -> api.events_grpc.EventsStub:
        return self._stub(api.events_grpc.EventsStub)  # type: ignore[no-any-return]

    @property
    def images(self) -> api.images_grpc.ImagesStub:
        return self._stub(api.images_grpc.ImagesStub)  # type: ignore[no-any-return]

    @property
    def introspection(self) -> api.introspection_grpc.IntrospectionStub:
        return self._stub(api.introspection_grpc.IntrospectionStub)  # type: ignore[no-any-return]

    @property
    def leases(self) -> api.leases_grpc.LeasesStub:
        return self._stub(api.leases_grpc.LeasesStub)  # type: ignore[no-any-return]

    @property
    def namespaces(self) -> api.namespaces_grpc.NamespacesStub:
        return self._stub(api.namespaces_grpc.NamespacesStub)  # type: ignore[no-any-return]

    @property
    def snapshots(self) -> api.snapshots_grpc.SnapshotsStub:
        return self._stub(api.snapshots_grpc.SnapshotsStub)  # type: ignore[no-any-return]

    @property
    def tasks(self) -> api.tasks_grpc.TasksStub:
        return self._stub(api.tasks_grpc.TasksStub)  # type: ignore[no-any-return]

    @property
    def version(self) -> api.version_grpc.VersionStub:
        return self._stub(api.version_grpc.VersionStub)  # type: ignore[no-any-return]

    # --- helpers ---------------------------------------------------------------------------

    async def server_version(self) -> str:
        """containerd's version; Unavailable when it does not answer."""
        from google.protobuf import empty_pb2

        reply = await self.version.Version(empty_pb2.Empty())
        return str(reply.version)
