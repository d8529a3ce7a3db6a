"""Kubernetes' remote command protocol (exec, attach) over named channels: `stdin`, `stdout`,
`stderr`, `resize` (JSON terminal sizes) and `error` (the final status).

Versions: `channel.k8s.io` (v1) and `v2.channel.k8s.io` write an error text only on failure;
`v3` adds the resize channel; `v4` writes a JSON `Status` always, with the exit code of a
failed command in `details.causes` (reason `ExitCode`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol

from domain.errors import HexcriError
from ports.streams import Streams, TerminalSize

log = logging.getLogger(__name__)

V1, V2, V3, V4, V5 = (
    "channel.k8s.io",
    "v2.channel.k8s.io",
    "v3.channel.k8s.io",
    "v4.channel.k8s.io",
    "v5.channel.k8s.io",
)
SPDY_PROTOCOLS = (V4, V3, V2, V1)
STREAM_TIMEOUT = 30.0
NON_ZERO_EXIT = "NonZeroExitCode"


class Channel(Protocol):
    async def read(self) -> bytes: ...
    async def write(self, data: bytes) -> None: ...
    async def close(self) -> None: ...


class CommandFailed(Exception):
    """A command that ran and exited non-zero."""

    def __init__(self, cmd: Sequence[str], code: int) -> None:
        super().__init__(f"error executing command {_go_list(cmd)}, exit code {code}")
        self.code = code


def _go_list(cmd: Sequence[str]) -> str:
    return "[" + " ".join(cmd) + "]"


def expected_channels(
    protocol: str, stdin: bool, stdout: bool, stderr: bool, tty: bool
) -> set[str]:
    """The channels a client of `protocol` opens for these options."""
    names = {"error"}
    if stdin:
        names.add("stdin")
    if stdout:
        names.add("stdout")
    if stderr and not tty:
        names.add("stderr")
    if tty and protocol in (V3, V4, V5):
        names.add("resize")
    return names


def status(protocol: str, error: BaseException | None) -> bytes:
    """What the error channel carries at the end (b"": nothing)."""
    if protocol not in (V4, V5):
        if error is None:
            return b""
        if isinstance(error, CommandFailed):
            return f"command terminated with non-zero exit code: {error}".encode()
        return str(error).encode()
    body: dict[str, Any] = {"metadata": {}}
    if error is None:
        body["status"] = "Success"
    elif isinstance(error, CommandFailed):
        body.update(
            status="Failure",
            message=f"command terminated with non-zero exit code: {error}",
            reason=NON_ZERO_EXIT,
            details={"causes": [{"reason": "ExitCode", "message": str(error.code)}]},
        )
    else:
        body.update(
            status="Failure",
            message=f"Internal error occurred: {error}",
            reason="InternalError",
            details={"causes": [{"message": str(error)}]},
            code=500,
        )
    text = json.dumps(body, separators=(",", ":"))
    # byte for byte as Go's encoding/json writes it (kubelet's server): HTML-safe escapes
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


async def chunks(channel: Channel) -> AsyncIterator[bytes]:
    while data := await channel.read():
        yield data


async def sizes(channel: Channel) -> AsyncIterator[TerminalSize]:
    """The JSON objects `{"Width":..,"Height":..}` sent one after another on `channel`."""
    decoder = json.JSONDecoder()
    buffer = ""
    async for data in chunks(channel):
        buffer += data.decode(errors="replace")
        while buffer.strip():
            buffer = buffer.lstrip()
            try:
                value, end = decoder.raw_decode(buffer)
            except json.JSONDecodeError:
                break
            buffer = buffer[end:]
            if isinstance(value, dict):
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    yield TerminalSize(width=int(value["Width"]), height=int(value["Height"]))


async def serve(
    protocol: str,
    channels: dict[str, Channel],
    tty: bool,
    run: Callable[[Streams], Awaitable[None]],
    gone: asyncio.Event,
) -> None:
    """Run `run` wired to `channels` until it ends or the client goes (`gone`), then write
    the status and close every channel we write to."""
    streams = Streams(
        stdin=chunks(channels["stdin"]) if "stdin" in channels else None,
        stdout=channels["stdout"].write if "stdout" in channels else None,
        stderr=channels["stderr"].write if "stderr" in channels else None,
        tty=tty,
        resize=sizes(channels["resize"]) if "resize" in channels else None,
    )
    error: BaseException | None = None
    task = asyncio.ensure_future(run(streams))
    waiter = asyncio.ensure_future(gone.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if task.cancelled():
        return  # the client is gone: nobody to tell
    try:
        task.result()
    except (CommandFailed, HexcriError) as e:
        error = e
    except Exception as e:
        log.exception("stream request failed")
        error = e
    for name in ("stdout", "stderr"):
        if name in channels:
            await channels[name].close()
    if "error" in channels:
        message = status(protocol, error)
        with contextlib.suppress(ConnectionError):
            if message:
                await channels["error"].write(message)
            await channels["error"].close()
