"""CniNetwork with Debian's real plugins (bridge, host-local, portmap, loopback, tuning) on a
private bridge and subnet. Traffic goes only between the test's own namespaces and 127.0.0.1."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path
from typing import Any

import pytest
from pyroute2 import IPRoute

from adapters.cni.errors import CniNotReady, CniPluginError, CniTimeout
from domain.model import PortMapping
from ports.network import PodNetworkRequest
from tests.integration.network.conftest import (
    echo_from_host,
    echo_from_netns,
    echo_server,
    free_port,
    start_pod,
    stop_pod,
)
from tests.support.cni import SUBNET, CniEnv

pytestmark = pytest.mark.cni

HANG = """\
#!/bin/sh
# A CNI plugin that never answers ADD; DEL and CHECK succeed.
cat > /dev/null
if [ "$CNI_COMMAND" = ADD ]; then echo $$ > "$(dirname "$0")/hang.pid"; exec sleep 3600; fi
exit 0
"""


def bridge_ports(bridge: str) -> list[str]:
    with IPRoute() as ipr:
        index = ipr.link_lookup(ifname=bridge)
        if not index:
            return []
        return [link.get_attr("IFLA_IFNAME") for link in ipr.get_links(master=index[0])]


async def assert_nothing_left(env: CniEnv) -> None:
    assert env.allocations() == []
    assert env.cached() == []
    assert env.pinned() == []
    assert env.nat_rules() == []
    assert await asyncio.to_thread(bridge_ports, env.bridge) == []


@pytest.mark.parametrize("version", ["1.0.0", "0.4.0", "0.3.1"])
async def test_two_pods_get_distinct_ips_and_reach_each_other(
    cni_env: CniEnv, version: str
) -> None:
    cni_env.write_config(version=version)
    namespaces, network = cni_env.namespaces(), cni_env.network()
    a, b = await asyncio.gather(start_pod(namespaces, network), start_pod(namespaces, network))
    try:
        assert len(a.ips) == len(b.ips) == 1
        assert a.ips != b.ips
        subnet = ipaddress.ip_network(SUBNET)
        assert all(ipaddress.ip_address(ip) in subnet for ip in a.ips + b.ips)
        assert sorted(cni_env.allocations()) == sorted(a.ips + b.ips)
        async with echo_server(a.netns, 7070):
            assert await echo_from_netns(b.netns, a.ips[0], 7070, "hi") == "echo:hi"
        async with echo_server(b.netns, 7070):
            assert await echo_from_netns(a.netns, b.ips[0], 7070, "ho") == "echo:ho"
        if version != "0.3.1":
            await network.check(a.request)
    finally:
        await asyncio.gather(stop_pod(namespaces, network, a), stop_pod(namespaces, network, b))
    await assert_nothing_left(cni_env)


async def test_port_mapping_on_localhost_reaches_the_pod(cni_env: CniEnv) -> None:
    namespaces, network = cni_env.namespaces(), cni_env.network()
    host_port = free_port()
    mapping = PortMapping(container_port=8080, host_port=host_port, host_ip="127.0.0.1")
    pod = await start_pod(namespaces, network, ports=(mapping,))
    try:
        rules = cni_env.nat_rules()
        assert any(f"--dports {host_port}" in r for r in rules), rules
        assert any(f"--to-destination {pod.ips[0]}:8080" in r for r in rules), rules
        async with echo_server(pod.netns, 8080):
            assert await echo_from_host("127.0.0.1", host_port, "port") == "echo:port"
    finally:
        await stop_pod(namespaces, network, pod)
    await assert_nothing_left(cni_env)


async def test_del_after_the_namespace_is_gone_frees_the_ip(cni_env: CniEnv) -> None:
    namespaces, network = cni_env.namespaces(), cni_env.network()
    pod = await start_pod(
        namespaces, network, ports=(PortMapping(container_port=1, host_port=free_port()),)
    )
    assert cni_env.allocations() == list(pod.ips)
    await namespaces.remove(pod.netns)  # as after a node reboot: the veth went with it
    await network.teardown(pod.request)
    await assert_nothing_left(cni_env)


async def test_del_from_the_cache_after_a_restart(cni_env: CniEnv) -> None:
    namespaces = cni_env.namespaces()
    pod = await start_pod(
        namespaces, cni_env.network(), ports=(PortMapping(container_port=1, host_port=free_port()),)
    )
    # hexcri restarts; the admin has meanwhile removed the config; recovery knows only the ID.
    for f in cni_env.conf_dir.iterdir():
        f.unlink()
    restarted = cni_env.network()
    assert restarted.condition().status is False
    assert await restarted.owned() == [pod.sandbox_id]
    await restarted.teardown(
        PodNetworkRequest(
            sandbox_id=pod.sandbox_id, netns_path="", pod_name="", pod_namespace="", pod_uid=""
        )
    )
    assert await restarted.owned() == []
    await namespaces.remove(pod.netns)
    await assert_nothing_left(cni_env)


async def test_missing_config(cni_env: CniEnv) -> None:
    for f in cni_env.conf_dir.iterdir():
        f.unlink()
    network = cni_env.network()
    condition = network.condition()
    assert condition.status is False
    assert condition.reason == "NetworkPluginNotReady"
    assert str(cni_env.conf_dir) in condition.message
    with pytest.raises(CniNotReady, match="no network config"):
        await start_pod(cni_env.namespaces(), network)
    await assert_nothing_left(cni_env)
    cni_env.write_config()
    assert network.condition().status is True


async def test_missing_plugin_binary(cni_env: CniEnv) -> None:
    cni_env.write_config(plugins=[*cni_env.plugins(), {"type": "hexcri-no-such-plugin"}])
    with pytest.raises(CniPluginError, match="failed to find plugin 'hexcri-no-such-plugin'"):
        await start_pod(cni_env.namespaces(), cni_env.network())
    await assert_nothing_left(cni_env)


async def test_plugin_failing_half_way_leaves_nothing(cni_env: CniEnv) -> None:
    bad_tuning: dict[str, Any] = {
        "type": "tuning",
        "sysctl": {"net.ipv4.conf.eth0.hexcri_no_such_knob": "1"},
    }
    cni_env.write_config(plugins=[cni_env.plugins()[0], bad_tuning, {"type": "loopback"}])
    with pytest.raises(CniPluginError, match="tuning") as info:
        await start_pod(cni_env.namespaces(), cni_env.network())
    assert "hexcri_no_such_knob" in str(info.value)
    await assert_nothing_left(cni_env)


async def test_hanging_plugin_times_out_and_is_cleaned_up(cni_env: CniEnv, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "hexcri-hang").write_text(HANG)
    (bin_dir / "hexcri-hang").chmod(0o755)
    cni_env.write_config(plugins=[cni_env.plugins()[0], {"type": "hexcri-hang"}])
    network = cni_env.network(bin_dirs=[str(bin_dir), *cni_env.bin_dirs], plugin_timeout=2.0)
    with pytest.raises(CniTimeout, match="hexcri-hang"):
        await start_pod(cni_env.namespaces(), network)
    pid = int((bin_dir / "hang.pid").read_text())
    assert not await asyncio.to_thread(Path(f"/proc/{pid}").exists)
    await assert_nothing_left(cni_env)


async def test_churn_of_fifty_pods_leaves_nothing(cni_env: CniEnv) -> None:
    namespaces, network = cni_env.namespaces(), cni_env.network()
    seen: set[str] = set()
    for _ in range(10):  # 10 rounds of 5 concurrent pods
        pods = await asyncio.gather(*(start_pod(namespaces, network) for _ in range(5)))
        ips = [p.ips[0] for p in pods]
        assert len(set(ips)) == 5
        seen.update(ips)
        await asyncio.gather(*(stop_pod(namespaces, network, p) for p in pods))
    assert len(seen) >= 5
    await assert_nothing_left(cni_env)
