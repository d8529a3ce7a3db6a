"""Where kubelet, critest and containerd's own CRI tests look, through hexcri's socket on the
real stack: the log file from the first byte, partial records, additional gids, crictl info."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as cri

from tests.e2e.conftest import Cri
from tests.e2e.test_containerd_containers import (
    container_config,
    pod_config,
    read_lines,
    real,  # noqa: F401 - the fixture
    remove_pod_and_check,
    run_pod,
    start,
    wait_state,
)
from tests.support.stack import Stack

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]


def records(path: Path) -> list[tuple[str, str, str]]:
    """(stream, tag, content) of each record."""
    return [tuple(line.split(" ", 3)[1:]) for line in read_lines(path)]  # type: ignore[misc]


async def test_the_log_file_exists_when_start_container_returns(
    real: Cri,  # noqa: F811
    stack: Stack,
    tmp_path: Path,
) -> None:
    """critest opens the log right after StartContainer, before any output."""
    pod = pod_config("logs", tmp_path)
    sid = await run_pod(real, pod)
    for i in range(5):
        config = container_config(f"c{i}", ["sh", "-c", "sleep 1; echo late"])
        await start(real, sid, pod, config)
        assert (tmp_path / f"c{i}.log").exists(), f"c{i}: no log file when StartContainer returned"
    await remove_pod_and_check(real, stack, sid)


async def test_partial_records_as_containerd(
    real: Cri,  # noqa: F811
    stack: Stack,
    tmp_path: Path,
) -> None:
    pod = pod_config("partial", tmp_path)
    sid = await run_pod(real, pod)
    tail = await start(real, sid, pod, container_config("tail", ["printf", "abcd"]))
    long = await start(
        real,
        sid,
        pod,
        container_config("long", ["sh", "-c", "head -c 40000 /dev/zero | tr '\\0' x; echo"]),
    )
    for cid in (tail, long):
        assert (await wait_state(real, cid, cri.CONTAINER_EXITED)).exit_code == 0
    assert records(tmp_path / "tail.log") == [("stdout", "P", "abcd")]
    assert [(s, t, len(c)) for s, t, c in records(tmp_path / "long.log")] == [
        ("stdout", "P", 16384),
        ("stdout", "P", 16384),
        ("stdout", "F", 40000 - 2 * 16384),
    ]
    await remove_pod_and_check(real, stack, sid)


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({}, "uid=0(root) gid=0(root) groups=0(root),10(wheel)"),
        (
            {"supplemental_groups": [1, 1234]},
            "uid=0(root) gid=0(root) groups=0(root),1(daemon),10(wheel),1234",
        ),
        ({"run_as_user": cri.Int64Value(value=1234)}, "uid=1234 gid=0(root) groups=0(root)"),
        ({"run_as_username": "daemon"}, "uid=1(daemon) gid=1(daemon) groups=1(daemon)"),
    ],
    ids=["root", "supplemental", "uid-not-in-passwd", "username"],
)
async def test_additional_gids_as_containerd(
    real: Cri,  # noqa: F811
    stack: Stack,
    tmp_path: Path,
    context: dict[str, object],
    expected: str,
) -> None:
    """containerd's WithAdditionalGIDs: the primary gid, the image's groups that list the
    user, then the supplemental groups (the busybox image's root is in wheel)."""
    pod = pod_config("gids", tmp_path)
    sid = await run_pod(real, pod)
    security = cri.LinuxContainerSecurityContext(**context)  # type: ignore[arg-type]
    cid = await start(real, sid, pod, container_config("id", ["id"], security_context=security))
    assert (await wait_state(real, cid, cri.CONTAINER_EXITED)).exit_code == 0
    assert [c for _, _, c in records(tmp_path / "id.log")] == [expected]
    await remove_pod_and_check(real, stack, sid)


async def test_status_verbose_as_crictl_info_reads_it(
    real: Cri,  # noqa: F811
    stack: Stack,
) -> None:
    status = await real.runtime.Status(cri.StatusRequest(verbose=True))
    config = json.loads(status.info["config"])
    assert config["maxContainerLogLineSize"] == 16384
    assert config["containerd"]["snapshotter"] == "overlayfs"
    assert config["cni"]["confDir"] == str(stack.cni.conf_dir)
    assert config["streamServerAddress"] == "127.0.0.1" and int(config["streamServerPort"]) > 0
    cni_config = json.loads(status.info["cniconfig"])
    assert [n["IFName"] for n in cni_config["Networks"]] == ["lo", "eth0"]
    assert status.info["lastCNILoadStatus"] == "OK"
