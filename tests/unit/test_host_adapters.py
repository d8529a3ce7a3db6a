"""The host adapters on this machine: devices by stat, node facts, pod files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.host.devices import StatDeviceLookup
from adapters.host.files import LocalSandboxFiles
from adapters.host.node import node_facts, own_capabilities
from domain.errors import NotFound


async def test_device_lookup() -> None:
    lookup = StatDeviceLookup()
    (null,) = await lookup.lookup("/dev/null")
    assert (null.type, null.major, null.minor) == ("c", 1, 3)
    with pytest.raises(NotFound):
        await lookup.lookup("/dev/does-not-exist")
    with pytest.raises(NotFound):
        await lookup.lookup("/etc/hostname")


def test_node_facts() -> None:
    facts = node_facts()
    assert facts["hostname"]
    caps = own_capabilities()
    assert "CAP_CHOWN" in caps and all(c.startswith("CAP_") for c in caps)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
async def test_sandbox_files_with_shm(tmp_path: Path) -> None:
    files = LocalSandboxFiles(str(tmp_path))
    directory = await files.write("abc", {"hostname": "web\n"}, 1 << 20)
    assert (Path(directory) / "hostname").read_text() == "web\n"
    assert os.path.ismount(Path(directory) / "shm")
    await files.remove("abc")
    assert not Path(directory).exists()
    await files.ensure_dir(str(tmp_path / "made" / "here"))
    assert (tmp_path / "made" / "here").is_dir()
