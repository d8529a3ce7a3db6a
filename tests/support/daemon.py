"""Starting and stopping the test suite's daemons (containerd, docker-registry, hexcri)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def start_daemon(
    argv: list[str],
    log: Path,
    ready: Callable[[], bool],
    name: str,
    timeout: float = 30.0,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` with its output appended to `log`; return once `ready()` says so."""
    with open(log, "ab") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(f"{name} did not answer:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    return process


def stop_daemon(
    process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, timeout: float = 20.0
) -> None:
    """Signal the process and wait for it; SIGKILL it if it outlives `timeout`."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
