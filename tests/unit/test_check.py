"""`hexcri check` on what needs no containerd: CNI, cgroups, addresses, the report itself."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from app import check
from app.settings import CniSettings, Settings


def cni_settings(tmp_path: Path, plugins: list[str], installed: list[str]) -> Settings:
    conf, bins = tmp_path / "net.d", tmp_path / "bin"
    conf.mkdir()
    bins.mkdir()
    network = {"cniVersion": "1.0.0", "name": "pods", "plugins": [{"type": p} for p in plugins]}
    (conf / "10-pods.conflist").write_text(json.dumps(network))
    for name in installed:
        (bins / name).write_text("#!/bin/sh\n")
        os.chmod(bins / name, 0o755)
    return Settings(cni=CniSettings(conf_dir=str(conf), bin_dirs=[str(bins)]))


async def test_cni_ok_names_the_network_and_plugins(tmp_path: Path) -> None:
    settings = cni_settings(tmp_path, ["bridge", "portmap"], ["bridge", "portmap", "loopback"])
    conf, plugins = await check.cni(settings)
    assert conf.ok and "network 'pods'" in conf.detail
    assert plugins.ok and plugins.detail == "bridge, portmap, loopback"


async def test_a_missing_plugin_fails_with_its_name_and_a_fix(tmp_path: Path) -> None:
    settings = cni_settings(tmp_path, ["bridge", "portmap"], ["bridge"])
    _, plugins = await check.cni(settings)
    assert not plugins.ok
    assert plugins.line().startswith("FAIL  CNI plugins: portmap, loopback not found in")
    assert "fix: install containernetworking-plugins or set cni.bin_dirs" in plugins.line()


async def test_no_network_config_fails(tmp_path: Path) -> None:
    settings = Settings(cni=CniSettings(conf_dir=str(tmp_path)))
    (found,) = await check.cni(settings)
    assert not found.ok and f"write a .conflist into {tmp_path}" in found.fix


async def test_a_taken_port_fails_the_address_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = Settings(streaming_address=f"127.0.0.1:{port}", metrics_address="127.0.0.1:0")
        streaming, metrics = await check.addresses(settings)
    assert not streaming.ok and streaming.name == "streaming_address"
    assert "fix: set streaming_address to a free host:port" in streaming.line()
    assert metrics.ok


async def test_the_systemd_driver_needs_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    real_isdir = os.path.isdir
    monkeypatch.setattr(
        check.os.path, "isdir", lambda p: False if p == "/run/systemd/system" else real_isdir(p)
    )
    (found,) = await check.cgroups(Settings(cgroup_driver="systemd"))
    assert not found.ok and "systemd is not the init" in found.detail
    (found,) = await check.cgroups(Settings(cgroup_driver="cgroupfs"))
    assert found.ok and "kubelet needs --cgroup-driver=cgroupfs" in found.detail


async def test_the_memory_backend_checks_only_addresses() -> None:
    found = await check.run(Settings(backend="memory"))
    assert [f.name for f in found] == ["streaming_address"]


def test_the_report_exits_non_zero_when_a_line_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def broken(settings: Settings) -> list[check.Finding]:
        raise RuntimeError("boom")

    monkeypatch.setattr(check, "CONTAINERD_CHECKS", (broken,))
    assert check.main(Settings()) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("FAIL  broken: RuntimeError: boom; fix:")
    assert out[-1] == "1 ok, 1 failed"
    monkeypatch.setattr(check, "CONTAINERD_CHECKS", ())
    assert check.main(Settings()) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "all 1 ok"
