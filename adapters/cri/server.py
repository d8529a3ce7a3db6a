"""The CRI gRPC server on a unix socket: start (0660, stale socket replaced) and stop gracefully."""

from __future__ import annotations

import contextlib
import os
import stat
import weakref
from typing import Any

import grpc
from cri_api.v1 import api_pb2_grpc as cri_grpc

from adapters.cri.decoding import add_guarded
from adapters.cri.servicer import ImageServicer, RuntimeServicer
from adapters.cri.telemetry import TelemetryInterceptor
from domain.services.usecases import UseCases
from ports.streams import StreamingUrls

MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # kubelet's limit for CRI messages
SOCKET_MODE = 0o660

# The socket each running server is bound to, for stop_server to remove.
_SOCKETS: weakref.WeakKeyDictionary[grpc.aio.Server, str] = weakref.WeakKeyDictionary()


def _prepare_socket(path: str) -> None:
    """Make the parent directories; remove a socket left behind by an earlier run (and
    refuse to clobber anything that is not a socket)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(f"{path} exists and is not a socket")
    os.unlink(path)


async def start_server(
    uses: UseCases,
    socket_path: str,
    streaming: StreamingUrls | None = None,
    config: dict[str, Any] | None = None,
) -> grpc.aio.Server:
    """Serve RuntimeService and ImageService for `uses` on `unix://socket_path`, every call
    timed and counted (`adapters.cri.telemetry`); Exec, Attach and PortForward hand out URLs
    of `streaming` (Unimplemented without it); Status verbose shows `config`."""
    _prepare_socket(socket_path)
    server = grpc.aio.server(
        interceptors=[TelemetryInterceptor()],  # metrics and the log context of every call
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    runtime = RuntimeServicer(uses, streaming, config)
    add_guarded(cri_grpc.add_RuntimeServiceServicer_to_server, runtime, server)
    add_guarded(cri_grpc.add_ImageServiceServicer_to_server, ImageServicer(uses), server)
    server.add_insecure_port(f"unix://{socket_path}")
    await server.start()
    os.chmod(socket_path, SOCKET_MODE)
    _SOCKETS[server] = socket_path
    return server


async def stop_server(server: grpc.aio.Server, grace: float) -> None:
    """Stop accepting calls, let those in flight finish within `grace` seconds (then cancel
    them), and remove the socket file."""
    path = _SOCKETS.pop(server, "")
    await server.stop(grace)
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
