"""A private containerd for the test session, started and cleaned up by the fixture.

It has its own root, state and socket under a temp dir, and containerd's `cri` plugin is
disabled. At the end every task it holds is killed, containerd is stopped by pid, the shims it
started are stopped by pid, leftover mounts under its dirs are unmounted and the dirs removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CONTAINERD = "/usr/bin/containerd"
CTR = "/usr/bin/ctr"
NAMESPACE = "hexcri-test"

_CONFIG = """\
version = 2
root = "{root}/root"
state = "{root}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "{root}/containerd.sock"

[ttrpc]
  address = "{root}/containerd.sock.ttrpc"

[debug]
  address = "{root}/debug.sock"
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{root}/opt"
"""


@dataclass
class Containerd:
    """A running private containerd."""

    root: Path
    namespace: str = NAMESPACE
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.root / "containerd.log"

    @property
    def address(self) -> str:
        return str(self.root / "containerd.sock")

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def ctr(self, *args: str, namespace: str | None = None, check: bool = True) -> str:
        """Run `ctr` against this containerd; returns stdout."""
        out = subprocess.run(
            [CTR, "-a", self.address, "-n", namespace or self.namespace, *args],
            capture_output=True,
            timeout=60,
        )
        if check and out.returncode != 0:
            raise RuntimeError(f"ctr {' '.join(args)}: {out.stderr.decode().strip()}")
        return out.stdout.decode()

    def start(self) -> None:
        self.config.write_text(_CONFIG.format(root=self.root))
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [CONTAINERD, "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"containerd exited: {self.log.read_text()[-2000:]}")
            probe = subprocess.run(
                [CTR, "-a", self.address, "version"], capture_output=True, timeout=10
            )
            if probe.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"containerd did not answer: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop containerd (not its shims: tasks keep running, as on a real restart)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    # --- cleanup ---------------------------------------------------------------------------

    def kill_tasks(self) -> None:
        """Kill and delete every task and container in every namespace."""
        if self.process is None or self.process.poll() is not None:
            return
        for ns in self.ctr("namespaces", "ls", "-q", check=False).split():
            for task in self.ctr("tasks", "ls", "-q", namespace=ns, check=False).split():
                self.ctr("tasks", "kill", "-s", "SIGKILL", task, namespace=ns, check=False)
            for task in self.ctr("tasks", "ls", "-q", namespace=ns, check=False).split():
                self.ctr("tasks", "rm", "-f", task, namespace=ns, check=False)
            for cid in self.ctr("containers", "ls", "-q", namespace=ns, check=False).split():
                self.ctr("containers", "rm", cid, namespace=ns, check=False)

    def shim_pids(self) -> list[int]:
        """The runc shims this containerd started (they name its socket on their command line)."""
        pids = []
        needle = self.address.encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"containerd-shim" in cmdline and needle in cmdline:
                pids.append(int(entry.name))
        return pids

    def unmount_leftovers(self) -> None:
        root = str(self.root)
        mounts = []
        with open("/proc/self/mountinfo") as info:
            for line in info:
                point = line.split()[4].replace("\\040", " ")
                if point == root or point.startswith(root + "/"):
                    mounts.append(point)
        for point in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self.kill_tasks()
        self.stop()
        for pid in self.shim_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.unmount_leftovers()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def containerd() -> Iterator[Containerd]:
    """A private containerd for the whole session."""
    if not os.path.exists(CONTAINERD) or os.geteuid() != 0:
        pytest.skip("needs root and /usr/bin/containerd")
    # unix socket paths are short: keep the dir under /tmp
    instance = Containerd(Path(tempfile.mkdtemp(prefix="hexcri-ctd-", dir="/tmp")))
    try:
        instance.start()
        yield instance
    finally:
        instance.cleanup()


@pytest.fixture
async def containerd_client(containerd: Containerd) -> AsyncIterator[object]:
    """A `ContainerdClient` on the session's containerd (one per test: channels are per loop)."""
    from adapters.containerd.client import ContainerdClient

    client = ContainerdClient(containerd.address, containerd.namespace)
    try:
        yield client
    finally:
        await client.close()
