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
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from domain.model import Image, ImageConfig
from tests.support.daemon import start_daemon, stop_daemon

BUSYBOX_REF = "docker.io/hexcri/busybox:test"
CONTAINERD = "/usr/bin/containerd"
CTR = "/usr/bin/ctr"
NAMESPACE = "hexcri-test"

_CONFIG = """\
version = 2
root = "{root}/root"
state = "{root}/state"
disabled_plugins = [{disabled}]

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
{extra}"""


@dataclass
class Containerd:
    """A running private containerd."""

    root: Path
    namespace: str = NAMESPACE
    process: subprocess.Popen[bytes] | None = None
    # containerd's own CRI plugin stays disabled unless `extra` configures it (benchmarks).
    cri: bool = False
    extra: str = ""
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.root / "containerd.log"

    @property
    def address(self) -> str:
        return str(self.root / "containerd.sock")

    @property
    def cgroup_parent(self) -> str:
        """A cgroup parent (cgroupfs path) for this session's containers."""
        return f"/{self.root.name}"

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
        disabled = "" if self.cri else '"io.containerd.grpc.v1.cri"'
        self.config.write_text(_CONFIG.format(root=self.root, disabled=disabled, extra=self.extra))
        self.process = start_daemon(
            [CONTAINERD, "--config", str(self.config)], self.log, self._answers, "containerd"
        )

    def _answers(self) -> bool:
        probe = [CTR, "-a", self.address, "version"]
        return subprocess.run(probe, capture_output=True, timeout=10).returncode == 0

    def stop(self) -> None:
        """Stop containerd (not its shims: tasks keep running, as on a real restart)."""
        stop_daemon(self.process)

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
        self.remove_cgroups()
        shutil.rmtree(self.root, ignore_errors=True)

    def remove_cgroups(self) -> None:
        for controller in Path("/sys/fs/cgroup").iterdir():
            parent = controller / self.cgroup_parent.lstrip("/")
            if parent.is_dir():
                for child in sorted(parent.rglob("*"), key=lambda p: len(str(p)), reverse=True):
                    if child.is_dir():
                        with contextlib.suppress(OSError):
                            child.rmdir()
                with contextlib.suppress(OSError):
                    parent.rmdir()


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


# --- a busybox image imported into the private containerd ---------------------------------


@pytest.fixture(scope="session")
def busybox_image(containerd: Containerd) -> Image:
    """A busybox image, unpacked into the overlayfs snapshotter of the session's containerd."""
    from tests.support import oci

    image = oci.busybox_image()
    tarball = containerd.root / "busybox.tar"
    image.write_layout_tar(tarball, BUSYBOX_REF)
    containerd.ctr("images", "import", str(tarball))
    return Image(
        id=image.config_digest,
        repo_tags=(BUSYBOX_REF,),
        config=ImageConfig(env=tuple(image.config["config"]["Env"]), cmd=("sh",)),
        diff_ids=tuple(image.diff_ids),
    )


def minimal_spec(
    args: list[str], cgroups_path: str, *, tty: bool = False, hostname: str = "test"
) -> dict[str, object]:
    """A small OCI spec for busybox containers (the real generator lives in domain/spec)."""
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": tty,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                key: ["CAP_KILL", "CAP_CHOWN", "CAP_SETUID", "CAP_SETGID"]
                for key in ("bounding", "effective", "permitted")
            },
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": hostname,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
            },
            {
                "destination": "/sys",
                "type": "sysfs",
                "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"],
            },
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")],
            "cgroupsPath": cgroups_path,
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
        },
    }
