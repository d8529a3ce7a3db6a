"""The LogFiles contract: the host's files (written off the event loop) and the simulator's."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.host.logs import HostLogFiles
from adapters.memory.logs import MemoryLogFiles
from domain.errors import InvalidArgument
from ports.io import LogFiles


@pytest.fixture(params=["host", "memory"])
def logs(request: pytest.FixtureRequest) -> LogFiles:
    return HostLogFiles() if request.param == "host" else MemoryLogFiles()


async def test_open_creates_the_file_and_its_directory(logs: LogFiles, tmp_path: Path) -> None:
    path = tmp_path / "pod" / "app" / "0.log"
    log = await logs.open(str(path))
    assert path.read_bytes() == b""
    await log.close()


async def test_writes_are_appended_in_order(logs: LogFiles, tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(b"kept\n")
    log = await logs.open(str(path))
    for n in range(100):
        log.write(b"%d\n" % n)
    await log.close()
    await log.close()  # idempotent
    log.write(b"after the close\n")  # dropped
    assert path.read_bytes() == b"kept\n" + b"".join(b"%d\n" % n for n in range(100))


async def test_reopen_writes_out_then_opens_a_new_file(logs: LogFiles, tmp_path: Path) -> None:
    path, rotated = tmp_path / "0.log", tmp_path / "0.log.1"
    log = await logs.open(str(path))
    log.write(b"before\n")
    path.rename(rotated)
    await log.reopen()
    assert path.exists()
    log.write(b"after\n")
    await log.close()
    assert rotated.read_bytes() == b"before\n"
    assert path.read_bytes() == b"after\n"


async def test_a_file_that_cannot_be_made_is_invalid_argument(
    logs: LogFiles, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(InvalidArgument, match="File exists"):
        await logs.open(str(tmp_path / "file" / "0.log"))
