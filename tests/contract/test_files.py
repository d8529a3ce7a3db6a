"""The SandboxFiles contract for pod volumes and hostPath checks, on the memory fake and the
local file system."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.host.files import LocalSandboxFiles
from adapters.memory.files import MemorySandboxFiles
from domain.errors import FailedPrecondition, InvalidArgument
from ports.files import SandboxFiles, VolumeFile


@pytest.fixture(params=["memory", "local"])
def files(request: pytest.FixtureRequest, tmp_path: Path) -> SandboxFiles:
    root = str(tmp_path / "sandboxes")
    return MemorySandboxFiles(root) if request.param == "memory" else LocalSandboxFiles(root)


async def test_volume_directory_under_the_pod(files: SandboxFiles, tmp_path: Path) -> None:
    path = await files.write_volume(
        "sb1", "conf", (VolumeFile(path="a/b.txt", content=b"x"),), False
    )
    assert path == str(tmp_path / "sandboxes" / "sb1" / "volumes" / "conf")
    again = await files.write_volume(
        "sb1", "conf", (VolumeFile(path="a/b.txt", content=b"y"),), False
    )
    assert again == path
    await files.remove("sb1")
    await files.remove("sb1")


@pytest.mark.parametrize(
    ("name", "file"), [("../x", "a"), ("", "a"), ("ok", "../../escape"), ("ok", "/abs")]
)
async def test_volume_paths_stay_inside(files: SandboxFiles, name: str, file: str) -> None:
    with pytest.raises(InvalidArgument):
        await files.write_volume("sb1", name, (VolumeFile(path=file, content=b""),), False)


@pytest.mark.parametrize("sub_path", ["../x", "a/../../x", "/etc"])
async def test_a_sub_path_may_not_leave_its_volume(files: SandboxFiles, sub_path: str) -> None:
    volume = await files.write_volume("sb1", "data", (), False)
    await files.check_sub_path(volume, "a/b")  # inside: fine, and made
    with pytest.raises(InvalidArgument, match="subPath"):
        await files.check_sub_path(volume, sub_path)


async def test_a_sub_path_through_a_symlink_out_of_the_volume_is_refused(tmp_path: Path) -> None:
    """A container can leave a symlink in a shared emptyDir; a later subPath through it must
    not become a bind mount of the host (kubelet's CVE-2017-1002101)."""
    files = LocalSandboxFiles(str(tmp_path / "sandboxes"))
    volume = await files.write_volume("sb1", "data", (), False)
    os.symlink("/etc", os.path.join(volume, "evil"))
    os.mkdir(os.path.join(volume, "inner"))
    os.symlink("inner", os.path.join(volume, "fine"))
    with pytest.raises(InvalidArgument, match="subPath 'evil/x'"):
        await files.check_sub_path(volume, "evil/x")
    await files.check_sub_path(volume, "fine/y")
    assert os.path.isdir(os.path.join(volume, "inner", "y"))
    assert not os.path.exists("/etc/x")


async def test_host_path_types(files: SandboxFiles, tmp_path: Path) -> None:
    directory, file = str(tmp_path / "host" / "dir"), str(tmp_path / "host" / "file")
    await files.check_host_path(directory, "")  # no type: nothing is checked
    with pytest.raises(FailedPrecondition, match="does not exist"):
        await files.check_host_path(directory, "Directory")
    await files.check_host_path(directory, "DirectoryOrCreate")
    await files.check_host_path(directory, "Directory")
    with pytest.raises(FailedPrecondition, match="not a File"):
        await files.check_host_path(directory, "File")
    await files.check_host_path(file, "FileOrCreate")
    await files.check_host_path(file, "File")
    with pytest.raises(FailedPrecondition, match="not a Directory"):
        await files.check_host_path(file, "DirectoryOrCreate")
    with pytest.raises(FailedPrecondition):
        await files.check_host_path(file, "Socket")
    with pytest.raises(InvalidArgument):
        await files.check_host_path(file, "Pipe")


async def test_remove_log_dir_is_idempotent(files: SandboxFiles, tmp_path: Path) -> None:
    logs = tmp_path / "logs" / "ns_pod_uid"
    (logs / "c").mkdir(parents=True)
    (logs / "c" / "0.log").write_text("x")
    await files.remove_log_dir(str(logs))
    await files.remove_log_dir(str(logs))


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
async def test_local_volumes_hold_their_files_and_memory_is_a_tmpfs(tmp_path: Path) -> None:
    files = LocalSandboxFiles(str(tmp_path))
    conf = await files.write_volume(
        "sb", "conf", (VolumeFile(path="d/key", content=b"v", mode=0o400),), False
    )
    assert (Path(conf) / "d" / "key").read_bytes() == b"v"
    assert (Path(conf) / "d" / "key").stat().st_mode & 0o777 == 0o400
    mem = await files.write_volume("sb", "mem", (), True)
    assert os.path.ismount(mem)
    (Path(mem) / "kept").write_text("data")
    assert await files.write_volume("sb", "mem", (), True) == mem
    assert (Path(mem) / "kept").read_text() == "data"  # an emptyDir keeps what it holds
    await files.remove("sb")
    assert not os.path.ismount(mem)
    assert not (tmp_path / "sb").exists()
    logs = tmp_path / "logs"
    logs.mkdir()
    await files.remove_log_dir(str(logs))
    assert not logs.exists()
