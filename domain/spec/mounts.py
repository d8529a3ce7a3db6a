"""Mounts: CRI mounts over the defaults, the pod's files and /dev/shm, propagation."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from typing import Any

from domain.errors import InvalidArgument
from domain.model import Mount, Propagation
from domain.spec.pipeline import Spec, Step, linux
from domain.validation.text import quote

ETC_HOSTNAME = "/etc/hostname"
ETC_HOSTS = "/etc/hosts"
ETC_RESOLV = "/etc/resolv.conf"
DEV_SHM = "/dev/shm"

PROPAGATION = {
    Propagation.PRIVATE: "rprivate",
    Propagation.HOST_TO_CONTAINER: "rslave",
    Propagation.BIDIRECTIONAL: "rshared",
}


def clean(path: str) -> str:
    """The destination as Go's filepath.Clean sees it, for comparing mount targets."""
    return posixpath.normpath(path) if path else path


def bind(source: str, destination: str, *options: str) -> dict[str, Any]:
    return {"destination": destination, "type": "bind", "source": source, "options": list(options)}


def without_mounts(*destinations: str) -> Step:
    """Remove the mounts at these destinations."""
    gone = {clean(d) for d in destinations}

    def step(spec: Spec) -> None:
        spec["mounts"] = [m for m in spec.get("mounts", []) if clean(m["destination"]) not in gone]

    return step


without_run_mount = without_mounts("/run")


def with_mounts(mounts: Iterable[dict[str, Any]]) -> Step:
    """Add OCI mounts, each replacing any mount already at its destination."""
    added = list(mounts)

    def step(spec: Spec) -> None:
        targets = {clean(m["destination"]) for m in added}
        kept = [m for m in spec.get("mounts", []) if clean(m["destination"]) not in targets]
        spec["mounts"] = kept + added

    return step


def _depth(path: str) -> int:
    return len([p for p in clean(path).split("/") if p])


def merge_cri_mounts(cri: Sequence[Mount], extra: Sequence[Mount]) -> list[Mount]:
    """The CRI mounts plus the extra (runtime) mounts they do not override, sorted so that
    a mount never shadows a deeper one (fewer path components first; stable)."""
    taken = {clean(m.container_path) for m in cri}
    merged = [*cri, *(e for e in extra if clean(e.container_path) not in taken)]
    return sorted(merged, key=lambda m: _depth(m.container_path))


def oci_mount(mount: Mount) -> dict[str, Any]:
    """A CRI mount as an OCI bind mount: rbind, propagation, ro/rw (SELinux relabel is
    ignored: there is no SELinux on the nodes hexcri targets)."""
    return bind(
        mount.host_path,
        mount.container_path,
        "rbind",
        PROPAGATION.get(mount.propagation, "rprivate"),
        "ro" if mount.readonly else "rw",
    )


def root_propagation(mounts: Iterable[Mount], current: str = "") -> str:
    """`linux.rootfsPropagation` the mounts need: rshared beats rslave beats unset."""
    modes = {m.propagation for m in mounts}
    if Propagation.BIDIRECTIONAL in modes or current == "rshared":
        return "rshared"
    if Propagation.HOST_TO_CONTAINER in modes or current == "rslave":
        return "rslave"
    return current


def with_cri_mounts(cri: Sequence[Mount], extra: Sequence[Mount] = ()) -> Step:
    """containerd's WithMounts: CRI (and extra) bind mounts over the default mounts.

    A default mount is dropped when a CRI/extra mount has its destination, and every
    default under /dev goes when /dev itself is mounted. Each CRI mount appears exactly once.
    """
    seen: set[str] = set()
    for m in cri:
        if clean(m.container_path) in seen:
            raise InvalidArgument(f"duplicate mount destination {quote(m.container_path)}")
        seen.add(clean(m.container_path))
    merged = merge_cri_mounts(cri, extra)

    def step(spec: Spec) -> None:
        targets = {clean(m.container_path) for m in merged}
        defaults = [
            m
            for m in spec.get("mounts", [])
            if clean(m["destination"]) not in targets
            and not ("/dev" in targets and clean(m["destination"]).startswith("/dev/"))
        ]
        spec["mounts"] = defaults + [oci_mount(m) for m in merged]
        propagation = root_propagation(merged, linux(spec).get("rootfsPropagation", ""))
        if propagation:
            linux(spec)["rootfsPropagation"] = propagation

    return step


def has_mount(mounts: Iterable[Mount], destination: str) -> bool:
    return any(clean(m.container_path) == clean(destination) for m in mounts)


def with_writable(*destinations: str) -> Step:
    """Turn `ro` into `rw` on the mounts at these destinations (sysfs, cgroup, privileged)."""
    targets = {clean(d) for d in destinations}

    def step(spec: Spec) -> None:
        for m in spec.get("mounts", []):
            if clean(m["destination"]) in targets:
                m["options"] = ["rw" if o == "ro" else o for o in m.get("options", [])]

    return step


with_writable_sysfs_and_cgroup = with_writable("/sys", "/sys/fs/cgroup")
