"""e2e fixtures: `hexcri serve` as a subprocess on a temp socket, and CRI stubs for it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2_grpc as cri_grpc


@dataclass
class Hexcri:
    socket: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            return self.process.wait(timeout=30)
        return self.process.returncode


def start_hexcri(tmp: Path, backend: str, env: dict[str, str] | None = None) -> Hexcri:
    socket = tmp / "run" / "hexcri.sock"
    log = tmp / "hexcri.log"
    environ = {
        **os.environ,
        "HEXCRI_CONFIG": str(tmp / "absent.toml"),
        "HEXCRI_ROOT_DIR": str(tmp / "root"),
        "HEXCRI_STATE_DIR": str(tmp / "state"),
        **(env or {}),
    }
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "serve",
                "--backend",
                backend,
                "--socket",
                str(socket),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environ,
        )
    deadline = time.monotonic() + 30
    while not socket.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"hexcri did not start:\n{log.read_text()}")
        time.sleep(0.05)
    return Hexcri(socket=str(socket), process=process, log=log)


@pytest.fixture
def hexcri_memory(tmp_path: Path) -> Iterator[Hexcri]:
    server = start_hexcri(tmp_path, "memory")
    yield server
    server.stop()


@dataclass
class Cri:
    runtime: cri_grpc.RuntimeServiceStub
    images: cri_grpc.ImageServiceStub


@pytest.fixture
async def client(hexcri_memory: Hexcri) -> AsyncIterator[Cri]:
    async with grpc.aio.insecure_channel(f"unix://{hexcri_memory.socket}") as channel:
        yield Cri(cri_grpc.RuntimeServiceStub(channel), cri_grpc.ImageServiceStub(channel))
