"""hexcri's log setup: the text and JSON formats, the RPC's fields, quiet chatty loggers."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from adapters.cri.telemetry import CURRENT, RpcCall
from app import logs


@pytest.fixture(autouse=True)
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_text_lines_end_with_the_rpc_fields() -> None:
    out = io.StringIO()
    logs.setup("info", "text", out)
    log = logging.getLogger("hexcri.test")
    log.info("outside any call")
    token = CURRENT.set(RpcCall("StopContainer", pod="p1", container="c1", started=0.0))
    try:
        log.info("inside")
    finally:
        CURRENT.reset(token)
    first, second = out.getvalue().splitlines()
    assert first.endswith("INFO hexcri.test: outside any call")
    assert "INFO hexcri.test: inside [rpc=StopContainer pod=p1 container=c1 duration=" in second
    assert second.endswith("s]")


def test_json_lines_are_objects_with_the_rpc_fields_and_the_traceback() -> None:
    out = io.StringIO()
    logs.setup("DEBUG", "json", out)
    token = CURRENT.set(RpcCall("RunPodSandbox", pod="p2", started=0.0))
    try:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("hexcri.test").exception("failed")
    finally:
        CURRENT.reset(token)
    line = json.loads(out.getvalue())
    assert line["level"] == "ERROR" and line["logger"] == "hexcri.test" and line["msg"] == "failed"
    assert line["rpc"] == "RunPodSandbox" and line["pod"] == "p2" and "container" not in line
    assert line["duration"] > 0 and "RuntimeError: boom" in line["exc"]
    assert line["time"].endswith("Z")


def test_registry_request_lines_only_at_debug() -> None:
    logs.setup("INFO", "text", io.StringIO())
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("grpc._cython.cygrpc").level == logging.INFO
