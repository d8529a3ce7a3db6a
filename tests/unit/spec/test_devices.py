"""Devices: CRI devices from host device records, privileged devices."""

from __future__ import annotations

import pytest

from domain.errors import InvalidArgument
from domain.model import Device
from domain.spec.defaults import default_spec
from domain.spec.devices import (
    HostDevice,
    with_all_devices_allowed,
    with_devices,
    with_host_devices,
)
from domain.spec.pipeline import apply

FUSE = HostDevice(path="/dev/fuse", major=10, minor=229, file_mode=0o20666)
SND = (
    HostDevice(path="/dev/snd/controlC0", major=116, minor=0, gid=29, file_mode=0o660),
    HostDevice(path="/dev/snd/pcmC0D0p", major=116, minor=16, gid=29, file_mode=0o660),
)


def test_device_node_and_allow_rule() -> None:
    device = Device(container_path="/dev/myfuse", host_path="/dev/fuse", permissions="rw")
    spec = apply(default_spec(), [with_devices([device], {"/dev/fuse": [FUSE]})])
    assert spec["linux"]["devices"] == [
        {
            "path": "/dev/myfuse",
            "type": "c",
            "major": 10,
            "minor": 229,
            "fileMode": 0o666,
            "uid": 0,
            "gid": 0,
        }
    ]
    rules = spec["linux"]["resources"]["devices"]
    assert rules[0]["allow"] is False  # the deny-all stays first
    assert rules[-1] == {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"}


def test_a_directory_maps_every_node_below_it() -> None:
    device = Device(container_path="/dev/sound", host_path="/dev/snd")
    spec = apply(default_spec(), [with_devices([device], {"/dev/snd": SND})])
    assert [d["path"] for d in spec["linux"]["devices"]] == [
        "/dev/sound/controlC0",
        "/dev/sound/pcmC0D0p",
    ]
    assert spec["linux"]["resources"]["devices"][-1]["access"] == "rwm"


def test_unknown_host_device_is_invalid() -> None:
    with pytest.raises(InvalidArgument):
        with_devices([Device(container_path="/dev/x", host_path="/dev/x")], {})


def test_no_devices_adds_nothing() -> None:
    spec = apply(default_spec(), [with_devices([], {})])
    assert "devices" not in spec["linux"]


def test_privileged_devices() -> None:
    spec = apply(
        default_spec(),
        [with_host_devices({"/dev/fuse": [FUSE], "/dev/snd": SND}), with_all_devices_allowed],
    )
    assert [d["path"] for d in spec["linux"]["devices"]] == [
        "/dev/fuse",
        "/dev/snd/controlC0",
        "/dev/snd/pcmC0D0p",
    ]
    assert spec["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
