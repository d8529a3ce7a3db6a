"""Small conversions to and from containerd's wire types, shared by the adapter's modules."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable
from typing import Any

from google.protobuf import any_pb2

from domain.errors import NotFound

SPEC_TYPE = "types.containerd.io/opencontainers/runtime-spec/1/Spec"
PROCESS_TYPE = "types.containerd.io/opencontainers/runtime-spec/1/Process"
RESOURCES_TYPE = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"


def json_any(type_url: str, value: Any) -> any_pb2.Any:
    """`value` as containerd's JSON-encoded `Any` of type `type_url`."""
    return any_pb2.Any(type_url=type_url, value=json.dumps(value).encode())


def ts_ns(ts: Any) -> int:
    """A protobuf Timestamp in nanoseconds since the epoch."""
    return int(ts.seconds) * 1_000_000_000 + int(ts.nanos)


async def ignore_not_found(call: Awaitable[Any]) -> None:
    """Await `call`; NotFound (already gone) is success."""
    with contextlib.suppress(NotFound):
        await call
