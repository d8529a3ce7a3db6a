"""Stats and the image filesystem on the real stack, through hexcri's CRI socket only, as
kubelet reads them: every field of ContainerStats / PodSandboxStats for a busy container
that holds memory, and ImageFsInfo against containerd's own word and `du`."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from cri_api.v1 import api_pb2 as cri

from tests.e2e.conftest import Cri
from tests.e2e.test_containerd_containers import (
    connect,
    container_config,
    exec_sync,
    pod_config,
    run_pod,
    start,
)
from tests.support.stack import BUSYBOX, Stack

T = TypeVar("T")
pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]

LIMIT = 256 << 20
HELD = 16_000_000  # bytes the container keeps in a shell variable (anonymous memory)
GATEWAY = "10.88.78.1"  # the stack's bridge
# writes a file to its writable layer, holds HELD bytes, then burns cpu
BUSY = f"echo hi > /written; held=$(head -c {HELD} /dev/zero | tr '\\0' x); while :; do :; done"


@pytest.fixture
async def c(stack: Stack) -> AsyncIterator[Cri]:
    channel, client = connect(stack)
    async with channel:
        await client.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=BUSYBOX)))
        yield client


def snapshotter_root(stack: Stack) -> str:
    """The overlayfs snapshotter's directory, as containerd's Introspection reports it."""
    listing = stack.containerd.ctr("plugins", "ls", "--detailed", "id==overlayfs")
    for line in listing.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == "root":
            return words[1]
    raise AssertionError(f"containerd reports no root for overlayfs:\n{listing}")


def du(path: str, *options: str) -> int:
    out = subprocess.run(["du", "-s", *options, path], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[0])


async def stats_of(c: Cri, cid: str) -> cri.ContainerStats:
    return (await c.runtime.ContainerStats(cri.ContainerStatsRequest(container_id=cid))).stats


async def holding(c: Cri, cid: str, seconds: float = 60) -> cri.ContainerStats:
    """The container's stats once it holds HELD bytes of its own."""
    for _ in range(int(seconds / 0.2)):
        stats = await stats_of(c, cid)
        if stats.memory.rss_bytes.value >= HELD:
            return stats
        await asyncio.sleep(0.2)
    raise AssertionError(f"container {cid} never held {HELD} bytes: {stats}")


async def burning(sample: Callable[[], Awaitable[T]], cpu: Callable[[T], cri.CpuUsage]) -> T:
    """A sample showing cpu spent since the one before (the kernel's counter moves at its
    ticks, so two samples close together may see the same value)."""
    for _ in range(50):
        got = await sample()
        if cpu(got).usage_nano_cores.value > 0:
            return got
        await asyncio.sleep(0.1)
    raise AssertionError(f"no cpu spent between samples of a busy container: {got}")


async def busy_pod(c: Cri, tmp_path: Path, name: str) -> tuple[str, str]:
    pod = pod_config(name, tmp_path)
    sid = await run_pod(c, pod)
    resources = cri.LinuxContainerResources(memory_limit_in_bytes=LIMIT)
    cid = await start(
        c, sid, pod, container_config("busy", ["sh", "-c", BUSY], resources=resources)
    )
    return sid, cid


async def test_container_stats_of_a_busy_container(c: Cri, stack: Stack, tmp_path: Path) -> None:
    _, cid = await busy_pod(c, tmp_path, "stats-busy")
    first = await stats_of(c, cid)
    assert first.cpu.HasField("usage_nano_cores")
    assert first.cpu.usage_nano_cores.value == 0  # the first sample: nothing to compare with
    await holding(c, cid)
    stats = await burning(lambda: stats_of(c, cid), lambda s: s.cpu)
    assert stats.attributes.id == cid and stats.attributes.metadata.name == "busy"
    assert stats.cpu.usage_core_nano_seconds.value > 0
    assert stats.cpu.usage_nano_cores.value > 0  # the rate since the sample before: burning
    memory = stats.memory
    assert memory.timestamp > 0
    assert 0 < memory.working_set_bytes.value <= memory.usage_bytes.value <= LIMIT
    assert memory.rss_bytes.value >= HELD
    assert memory.page_faults.value > 0 and memory.HasField("major_page_faults")
    # the limit set, so what is left of it
    assert memory.available_bytes.value == LIMIT - memory.working_set_bytes.value
    layer = stats.writable_layer
    assert layer.fs_id.mountpoint == snapshotter_root(stack)
    assert layer.used_bytes.value > 0
    assert layer.inodes_used.value >= 2  # the upper dir and /written at least

    listed = (await c.runtime.ListContainerStats(cri.ListContainerStatsRequest())).stats
    [same] = [s for s in listed if s.attributes.id == cid]
    assert same.cpu.usage_nano_cores.value > 0 and same.memory.rss_bytes.value >= HELD


async def test_pod_stats_count_its_traffic_and_processes(
    c: Cri, stack: Stack, tmp_path: Path
) -> None:
    sid, cid = await busy_pod(c, tmp_path, "stats-pod")
    await holding(c, cid)
    ping = await exec_sync(c, cid, ["ping", "-c", "2", "-W", "5", GATEWAY], timeout=20)
    assert ping.exit_code == 0, ping
    request = cri.PodSandboxStatsRequest(pod_sandbox_id=sid)
    first = (await c.runtime.PodSandboxStats(request)).stats

    async def sample() -> cri.PodSandboxStats:
        return (await c.runtime.PodSandboxStats(request)).stats

    stats = await burning(sample, lambda s: s.linux.cpu)
    assert stats.attributes.id == sid and stats.attributes.metadata.name == "stats-pod"
    linux = stats.linux
    assert first.linux.cpu.usage_nano_cores.value == 0  # the pod's first sample
    assert linux.cpu.usage_core_nano_seconds.value > 0 and linux.cpu.usage_nano_cores.value > 0
    assert linux.memory.working_set_bytes.value > 0
    assert linux.memory.rss_bytes.value >= HELD and linux.memory.page_faults.value > 0
    eth0 = linux.network.default_interface
    assert eth0.name == "eth0"
    assert eth0.rx_bytes.value > 0 and eth0.tx_bytes.value > 0
    assert eth0.HasField("rx_errors") and eth0.HasField("tx_errors")
    assert "lo" not in [i.name for i in linux.network.interfaces]
    assert linux.process.process_count.value >= 1
    assert [s.attributes.id for s in linux.containers] == [cid]
    assert linux.containers[0].memory.rss_bytes.value >= HELD

    listed = (await c.runtime.ListPodSandboxStats(cri.ListPodSandboxStatsRequest())).stats
    assert [p.attributes.id for p in listed] == [sid]
    assert listed[0].linux.network.default_interface.rx_bytes.value >= eth0.rx_bytes.value


async def test_image_fs_info_is_containerds_snapshotter_measured(
    c: Cri, stack: Stack, tmp_path: Path
) -> None:
    await busy_pod(c, tmp_path, "stats-fs")  # a writable layer besides the images' layers
    answer = await c.images.ImageFsInfo(cri.ImageFsInfoRequest())
    [fs] = answer.image_filesystems
    root = snapshotter_root(stack)
    assert fs.fs_id.mountpoint == root
    assert list(answer.container_filesystems) == [fs]
    used, inodes = du(root, "--block-size=1"), du(root, "--inodes")
    assert fs.used_bytes.value > 0 and fs.inodes_used.value > 0
    # containerd's measure: its snapshots, without the snapshotter's own database and dirs
    assert used * 0.8 <= fs.used_bytes.value <= used
    assert inodes * 0.8 <= fs.inodes_used.value <= inodes
