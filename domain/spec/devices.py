"""Devices: CRI devices as OCI device nodes with cgroup allow rules, privileged devices.

A device's type, major and minor numbers live on the node (a stat of the host path), which
the domain cannot read. The caller passes them in as `HostDevice` records, keyed by the CRI
device's host path: a device file gives one record, a directory (e.g. `/dev/snd`) gives
one record per device node under it. The service gathers them through a port and hands
them to `container_spec(..., devices=...)`; a CRI device without records is an error, as
a missing host device is in containerd.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from domain.errors import InvalidArgument
from domain.model import Device, Frozen
from domain.spec.pipeline import Spec, Step, linux, resources
from domain.validation.text import quote


class HostDevice(Frozen):
    """A device node on the host, as stat(2) describes it."""

    path: str
    type: Literal["c", "b", "p", "u"] = "c"
    major: int
    minor: int
    file_mode: int = 0o666
    uid: int = 0
    gid: int = 0


HostDevices = Mapping[str, Sequence[HostDevice]]


def container_path(device: Device, node: HostDevice) -> str:
    """Where a host device node appears: the CRI path, or below it for a directory."""
    host = posixpath.normpath(device.host_path)
    path = posixpath.normpath(node.path)
    if path == host:
        return device.container_path
    return posixpath.join(device.container_path, posixpath.relpath(path, host))


def oci_device(node: HostDevice, path: str) -> dict[str, Any]:
    return {
        "path": path,
        "type": node.type,
        "major": node.major,
        "minor": node.minor,
        "fileMode": node.file_mode & 0o777,
        "uid": node.uid,
        "gid": node.gid,
    }


def allow_rule(node: HostDevice, access: str) -> dict[str, Any]:
    return {
        "allow": True,
        "type": node.type,
        "major": node.major,
        "minor": node.minor,
        "access": access,
    }


def _add(spec: Spec, entries: Sequence[tuple[HostDevice, str, str]]) -> None:
    if not entries:
        return
    devices = linux(spec).setdefault("devices", [])
    rules = resources(spec).setdefault("devices", [])
    for node, path, access in entries:
        devices[:] = [d for d in devices if d["path"] != path]
        devices.append(oci_device(node, path))
        rules.append(allow_rule(node, access))


def with_devices(requested: Sequence[Device], host: HostDevices) -> Step:
    """Each CRI device's node(s), with an allow rule for its permissions (`rwm` default)."""
    entries: list[tuple[HostDevice, str, str]] = []
    for device in requested:
        nodes = host.get(device.host_path)
        if not nodes:
            raise InvalidArgument(f"device {quote(device.host_path)} not found on the node")
        for node in nodes:
            entries.append((node, container_path(device, node), device.permissions or "rwm"))

    def step(spec: Spec) -> None:
        _add(spec, entries)

    return step


def with_host_devices(host: HostDevices) -> Step:
    """Every host device given, at its own path (a privileged container sees the host's)."""
    entries = [(n, n.path, "rwm") for nodes in host.values() for n in nodes]

    def step(spec: Spec) -> None:
        _add(spec, entries)

    return step


def with_all_devices_allowed(spec: Spec) -> None:
    """A single rule allowing every device."""
    resources(spec)["devices"] = [{"allow": True, "access": "rwm"}]
