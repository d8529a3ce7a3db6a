"""`hexcri serve` under systemd's readiness protocol: READY=1 once the socket serves, STOPPING=1
on SIGTERM (the unit's Type=notify)."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

from tests.e2e.conftest import start_hexcri


def test_ready_when_serving_and_stopping_on_sigterm(tmp_path: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="hexcri-nfy-") as short:  # unix path limit
        address = str(Path(short) / "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
            listener.bind(address)
            listener.settimeout(30)
            server = start_hexcri(tmp_path, "memory", env={"NOTIFY_SOCKET": address})
            try:
                assert listener.recv(256) == b"READY=1"
                assert Path(server.socket).exists()
            finally:
                assert server.stop() == 0
            assert listener.recv(256) == b"STOPPING=1"
