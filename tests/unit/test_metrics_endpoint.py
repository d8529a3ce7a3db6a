"""The /metrics endpoint: the stores' objects by state, the process collector, start and stop."""

from __future__ import annotations

import asyncio
import re
import urllib.request

import pytest
from prometheus_client import REGISTRY

from app import metrics
from tests.support.harness import Harness
from tests.unit.conftest import container, pod


def scrape(address: str) -> dict[str, float]:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


async def test_metrics_show_objects_by_state_and_the_process(ctx: Harness) -> None:
    await ctx.image_pull.pull_image("busybox")
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    await ctx.container_create.create_container(sid, container())
    server = metrics.start("127.0.0.1:0", ctx.uses)
    try:
        assert server.address.startswith("127.0.0.1:")
        samples = await asyncio.to_thread(scrape, server.address)
    finally:
        server.stop()
    assert samples['hexcri_pod_sandboxes{state="SANDBOX_READY"}'] == 1
    assert samples['hexcri_pod_sandboxes{state="SANDBOX_NOTREADY"}'] == 0
    assert samples['hexcri_containers{state="CONTAINER_CREATED"}'] == 1
    assert samples['hexcri_containers{state="CONTAINER_RUNNING"}'] == 0
    assert samples["hexcri_images"] >= 1
    assert samples["process_resident_memory_bytes"] > 1e6
    assert samples["process_open_fds"] > 0
    # stopped: the port is closed and the stores' collector is gone from the registry
    assert REGISTRY.get_sample_value("hexcri_images") is None
    with pytest.raises(OSError):
        await asyncio.to_thread(scrape, server.address)


@pytest.mark.parametrize("address", ["9464", "localhost", "127.0.0.1:port"])
def test_a_bad_address_is_refused_with_an_example(address: str) -> None:
    with pytest.raises(ValueError, match=re.escape("expected host:port, e.g. 127.0.0.1:9464")):
        metrics.split_address(address)


def test_addresses() -> None:
    assert metrics.split_address("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert metrics.split_address("[::1]:9464") == ("::1", 9464)
    assert metrics.split_address(":9464") == ("127.0.0.1", 9464)


async def test_a_taken_port_names_the_setting(ctx: Harness) -> None:
    first = metrics.start("127.0.0.1:0", ctx.uses)
    try:
        with pytest.raises(OSError, match=re.escape("metrics_address 127.0.0.1:")):
            metrics.start(first.address, ctx.uses)
        assert REGISTRY.get_sample_value("hexcri_images") is not None  # the first's collector
    finally:
        first.stop()
    assert REGISTRY.get_sample_value("hexcri_images") is None
