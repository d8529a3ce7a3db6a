"""hexcri's own log: text or JSON lines, each line of a CRI call carrying its RPC, IDs and time.

The CRI edge (`adapters.cri.telemetry`) sets the call being served in a context variable;
`RpcFields` copies it onto every record written while the call runs (by any module), so that
`grep pod=<id>` or a JSON query finds everything one pod's calls did.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

from adapters.cri.telemetry import CURRENT

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(rpc_fields)s"
CHATTY = ("httpx", "httpcore")  # a line per registry request: debug only
QUIET = ("grpc._cython.cygrpc",)  # "Loaded running loop" at every call, even at debug


class RpcFields(logging.Filter):
    """Adds `rpc`, `pod`, `container` and `duration` (seconds since the call began)."""

    def filter(self, record: logging.LogRecord) -> bool:
        call = CURRENT.get()
        values: dict[str, Any] = {
            "rpc": call.rpc if call else "",
            "pod": call.pod if call else "",
            "container": call.container if call else "",
            "duration": round(call.elapsed, 6) if call else None,
        }
        fields = [f"{k}={v}" for k, v in values.items() if v and k != "duration"]
        if call:
            fields.append(f"duration={values['duration']:.3f}s")
        values["rpc_fields"] = f" [{' '.join(fields)}]" if fields else ""
        record.__dict__.update(values)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the RPC fields, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("rpc", "pod", "container", "duration"):
            value = getattr(record, key, None)
            if value is not None and value != "":
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup(level: str, fmt: str = "text", stream: TextIO | None = None) -> logging.Handler:
    """Send the root logger's records to `stream` (stderr: journald under systemd)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RpcFields())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for quiet in QUIET:
        logging.getLogger(quiet).setLevel(logging.INFO)
    if root.level > logging.DEBUG:
        for chatty in CHATTY:
            logging.getLogger(chatty).setLevel(logging.WARNING)
    return handler
