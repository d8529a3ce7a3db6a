"""The default spec every pipeline starts from (containerd's `populateDefaultUnixSpec`)."""

from __future__ import annotations

from typing import Any

from domain.spec.capabilities import DEFAULT_CAPABILITIES, GRANTED_SETS
from domain.spec.pipeline import Spec

OCI_VERSION = "1.0.2"
ROOTFS = "rootfs"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

DEFAULT_MASKED_PATHS: tuple[str, ...] = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
)

DEFAULT_READONLY_PATHS: tuple[str, ...] = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)

NAMESPACES: tuple[str, ...] = ("pid", "ipc", "uts", "mount", "network")

# Character devices every container may use (runc creates the nodes): null, zero, full,
# random, urandom, tty, console, ptmx, the pts range and tun.
DEFAULT_DEVICE_RULES: tuple[tuple[int, int | None], ...] = (
    (1, 3),
    (1, 5),
    (1, 7),
    (1, 8),
    (1, 9),
    (5, 0),
    (5, 1),
    (5, 2),
    (136, None),
    (10, 200),
)


def _mount(dest: str, kind: str, source: str, *options: str) -> dict[str, Any]:
    return {"destination": dest, "type": kind, "source": source, "options": list(options)}


def default_mounts() -> list[dict[str, Any]]:
    """proc, /dev, devpts, /dev/shm, mqueue, sysfs (ro), /run and the cgroup fs (ro)."""
    return [
        _mount("/proc", "proc", "proc", "nosuid", "noexec", "nodev"),
        _mount("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"),
        _mount(
            "/dev/pts",
            "devpts",
            "devpts",
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ),
        _mount("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k"),
        _mount("/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev"),
        _mount("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro"),
        _mount("/run", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"),
        _mount("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid", "noexec", "nodev", "relatime", "ro"),
    ]


def default_device_rules() -> list[dict[str, Any]]:
    """Deny every device, then allow the defaults."""
    rules: list[dict[str, Any]] = [{"allow": False, "access": "rwm"}]
    for major, minor in DEFAULT_DEVICE_RULES:
        rule: dict[str, Any] = {"allow": True, "type": "c", "major": major, "access": "rwm"}
        if minor is not None:
            rule["minor"] = minor
        rules.append(rule)
    return rules


def default_spec() -> Spec:
    """A fresh default spec: root `rootfs`, uid 0, default caps, mounts, paths, namespaces."""
    return {
        "ociVersion": OCI_VERSION,
        "root": {"path": ROOTFS},
        "process": {
            "cwd": "/",
            "noNewPrivileges": True,
            "user": {"uid": 0, "gid": 0},
            "args": [],
            "env": [],
            "capabilities": {key: list(DEFAULT_CAPABILITIES) for key in GRANTED_SETS},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        },
        "mounts": default_mounts(),
        "linux": {
            "maskedPaths": list(DEFAULT_MASKED_PATHS),
            "readonlyPaths": list(DEFAULT_READONLY_PATHS),
            "resources": {"devices": default_device_rules()},
            "namespaces": [{"type": t} for t in NAMESPACES],
        },
        "annotations": {},
    }


def without_default_security_settings(spec: Spec) -> None:
    """No default rlimits (containerd#515: inherit the runtime's), AppArmor or seccomp."""
    proc = spec.setdefault("process", {})
    proc.pop("rlimits", None)
    proc.pop("apparmorProfile", None)
    spec.setdefault("linux", {}).pop("seccomp", None)
