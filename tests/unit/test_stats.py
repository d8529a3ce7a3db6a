"""Container and pod stats on the memory fakes: cpu rates from successive samples, memory
against the limit, the pod's totals, network interfaces and process count."""

from __future__ import annotations

import logging

import pytest

from adapters.memory.backend import MemoryBackend
from adapters.memory.images import SNAPSHOTS_DIR
from domain.model import (
    ContainerStats,
    InterfaceStats,
    LinuxResources,
    NamespaceMode,
    NamespaceOptions,
    SandboxSecurity,
)
from domain.stats import CpuRates, pod_interfaces, pod_usage
from tests.support.harness import Harness
from tests.unit.conftest import container, pod

SECOND = 1_000_000_000


async def run_app(ctx: Harness, sandbox_id: str, name: str = "app", **kw: object) -> str:
    await ctx.image_pull.pull_image("busybox")
    config = container(name=name, command=("server",), **kw)
    cid = await ctx.container_create.create_container(sandbox_id, config)
    await ctx.container_start.start_container(cid)
    return cid


# --- the arithmetic ---------------------------------------------------------------------------


def test_cpu_rate_is_against_the_previous_sample_of_the_same_key() -> None:
    rates = CpuRates()
    assert rates.rate("a", 1_000, 10 * SECOND) == 0  # the first sample has nothing to compare
    assert rates.rate("b", 5_000_000, 10 * SECOND) == 0
    # half a core over two seconds
    assert rates.rate("a", 1_000 + SECOND, 12 * SECOND) == SECOND // 2
    assert rates.rate("a", 1_000 + SECOND, 12 * SECOND) == 0  # no time passed
    assert rates.rate("a", 1_000 + 2 * SECOND, 13 * SECOND) == SECOND  # one core
    assert rates.rate("a", 0, 14 * SECOND) == 0  # a counter that went back (a restart)
    assert rates.rate("a", SECOND // 4, 15 * SECOND) == SECOND // 4


def test_cpu_rates_forget_what_is_gone() -> None:
    rates = CpuRates()
    rates.rate("a", 0, SECOND)
    rates.rate("b", 0, SECOND)
    rates.retain(["b"])
    assert "a" not in rates and "b" in rates
    assert rates.rate("a", SECOND, 2 * SECOND) == 0  # a first sample again
    assert rates.rate("b", SECOND, 2 * SECOND) == SECOND


def test_available_memory_is_the_limit_minus_the_working_set() -> None:
    stats = ContainerStats(container_id="c", timestamp=1, memory_working_set_bytes=30)
    assert stats.memory_available_bytes == 0  # no limit
    assert stats.model_copy(update={"memory_limit_bytes": 100}).memory_available_bytes == 70
    assert stats.model_copy(update={"memory_limit_bytes": 20}).memory_available_bytes == 0


def test_pod_usage_sums_its_members() -> None:
    a = ContainerStats(
        container_id="a",
        timestamp=1,
        cpu_usage_core_ns=10,
        memory_working_set_bytes=3,
        memory_usage_bytes=4,
        memory_limit_bytes=100,
        memory_rss_bytes=2,
        memory_page_faults=5,
        memory_major_page_faults=1,
    )
    b = a.model_copy(update={"container_id": "b", "memory_limit_bytes": 50})
    total = pod_usage("pod", 9, [a, b])
    assert (total.container_id, total.timestamp, total.cpu_usage_core_ns) == ("pod", 9, 20)
    assert (total.memory_working_set_bytes, total.memory_usage_bytes) == (6, 8)
    assert (total.memory_rss_bytes, total.memory_page_faults) == (4, 10)
    assert (total.memory_major_page_faults, total.memory_limit_bytes) == (2, 150)
    unlimited = b.model_copy(update={"memory_limit_bytes": 0})
    assert pod_usage("pod", 9, [a, unlimited]).memory_limit_bytes == 0  # one without a limit


def test_pod_interfaces_put_the_default_first_and_leave_loopback_out() -> None:
    found = [InterfaceStats(name=n) for n in ("lo", "net1", "eth0", "eth1")]
    assert [i.name for i in pod_interfaces(found)] == ["eth0", "eth1", "net1"]
    assert pod_interfaces([InterfaceStats(name="lo")]) == ()


# --- containers -------------------------------------------------------------------------------


async def test_container_stats_rate_the_cpu_from_successive_samples(
    ctx: Harness, backend: MemoryBackend
) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    cid = await run_app(ctx, sid)
    _, first = await ctx.container_query.container_stats(cid)
    assert first.cpu_usage_nano_cores == 0  # as containerd: nothing to compare with yet
    backend.clock.advance(2)  # type: ignore[attr-defined]
    _, second = await ctx.container_query.container_stats(cid)
    assert second.cpu_usage_core_ns > first.cpu_usage_core_ns
    spent = second.cpu_usage_core_ns - first.cpu_usage_core_ns
    assert second.cpu_usage_nano_cores == spent * SECOND // (second.timestamp - first.timestamp)
    assert second.cpu_usage_nano_cores > 0
    # the list shares the samples: its rate is against the single call's sample
    backend.clock.advance(1)  # type: ignore[attr-defined]
    [(_, listed)] = await ctx.container_query.list_container_stats()
    assert listed.cpu_usage_nano_cores > 0


async def test_container_stats_report_every_memory_and_layer_field(ctx: Harness) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    limited = await run_app(
        ctx, sid, name="limited", resources=LinuxResources(memory_limit_in_bytes=64 << 20)
    )
    free = await run_app(ctx, sid, name="free")
    _, stats = await ctx.container_query.container_stats(limited)
    assert 0 < stats.memory_working_set_bytes <= stats.memory_usage_bytes
    assert 0 < stats.memory_rss_bytes <= stats.memory_working_set_bytes
    assert stats.memory_page_faults > 0 and stats.memory_major_page_faults > 0
    assert stats.memory_limit_bytes == 64 << 20
    assert stats.memory_available_bytes == (64 << 20) - stats.memory_working_set_bytes
    assert stats.process_count == 1
    assert stats.writable_layer_mountpoint == SNAPSHOTS_DIR  # what ImageFsInfo reports
    assert stats.writable_layer_bytes > 0 and stats.writable_layer_inodes > 0
    _, unlimited = await ctx.container_query.container_stats(free)
    assert unlimited.memory_limit_bytes == 0 and unlimited.memory_available_bytes == 0


async def test_samples_of_removed_containers_are_forgotten(ctx: Harness) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    cid = await run_app(ctx, sid)
    await ctx.container_query.container_stats(cid)
    await ctx.sandbox_query.pod_sandbox_stats(sid)
    assert cid in ctx.cpu_rates and ("pod", sid) in ctx.cpu_rates
    await ctx.container_stop.stop_container(cid, 0)
    await ctx.container_remove.remove_container(cid)
    await ctx.container_query.list_container_stats()
    assert cid not in ctx.cpu_rates and ("pod", sid) in ctx.cpu_rates


# --- pods -------------------------------------------------------------------------------------


async def test_pod_stats_total_the_pod_and_count_its_traffic_and_processes(
    ctx: Harness, backend: MemoryBackend
) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    a = await run_app(ctx, sid, name="a")
    b = await run_app(ctx, sid, name="b")
    _, first = await ctx.sandbox_query.pod_sandbox_stats(sid)
    assert first.sandbox_id == sid and first.usage.cpu_usage_nano_cores == 0
    assert sorted(c.container_id for c in first.containers) == sorted([a, b])
    pause = await backend.runtime.stats(sid)
    each = [c.memory_working_set_bytes for c in first.containers]
    assert first.usage.memory_working_set_bytes == sum(each) + pause.memory_working_set_bytes
    assert first.process_count == 2  # one per container; the pause is not counted
    [eth0] = first.interfaces  # the default interface first, loopback left out
    assert eth0.name == "eth0" and eth0.rx_bytes > 0 and eth0.tx_bytes > 0
    backend.clock.advance(2)  # type: ignore[attr-defined]
    _, second = await ctx.sandbox_query.pod_sandbox_stats(sid)
    assert second.usage.cpu_usage_nano_cores > 0
    assert second.interfaces[0].rx_bytes > eth0.rx_bytes
    [(listed_sandbox, listed)] = await ctx.sandbox_query.list_pod_sandbox_stats()
    assert listed_sandbox.id == sid and listed.process_count == 2


async def test_host_network_pod_has_no_interfaces_of_its_own(ctx: Harness) -> None:
    host = SandboxSecurity(namespace_options=NamespaceOptions(network=NamespaceMode.NODE))
    sid = await ctx.sandbox_run.run_pod_sandbox(pod(security=host))
    await run_app(ctx, sid)
    _, stats = await ctx.sandbox_query.pod_sandbox_stats(sid)
    assert stats.interfaces == () and stats.process_count == 1


async def test_stopped_pod_has_empty_stats(ctx: Harness) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    await run_app(ctx, sid)
    await ctx.sandbox_stop.stop_pod_sandbox(sid)
    _, stats = await ctx.sandbox_query.pod_sandbox_stats(sid)
    assert stats.containers == () and stats.interfaces == () and stats.process_count == 0
    assert stats.usage.cpu_usage_core_ns == 0
    assert await ctx.sandbox_query.list_pod_sandbox_stats() == []


async def test_a_task_that_ended_since_the_listing_is_left_out(backend: MemoryBackend) -> None:
    """No exit watcher here: the store still says RUNNING when the runtime has no task."""
    ctx = Harness(ports=backend.ports())
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    gone = await run_app(ctx, sid, name="gone")
    kept = await run_app(ctx, sid, name="kept")
    await backend.runtime.kill(gone, 9)
    await backend.runtime.reap(gone)
    listed = await ctx.container_query.list_container_stats()
    assert [c.id for c, _ in listed] == [kept]
    _, stats = await ctx.sandbox_query.pod_sandbox_stats(sid)
    assert [c.container_id for c in stats.containers] == [kept] and stats.process_count == 1


async def test_a_pod_whose_namespace_is_gone_has_no_interfaces(
    ctx: Harness, backend: MemoryBackend, caplog: pytest.LogCaptureFixture
) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    await run_app(ctx, sid)
    path = ctx.sandbox_query.pod_sandbox_status(sid).netns_path
    await backend.netns.remove(path)  # as someone else might
    with caplog.at_level(logging.WARNING):
        _, stats = await ctx.sandbox_query.pod_sandbox_stats(sid)
    assert stats.interfaces == () and stats.process_count == 1  # the rest is still there
    assert sid in caplog.text and path in caplog.text
