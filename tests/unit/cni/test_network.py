"""CniNetwork and the chain on fake plugins: ordering, chaining, errors, timeouts, the cache."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from adapters.cni import CniNetwork
from adapters.cni.errors import CniConfigError, CniNotReady, CniPluginError, CniTimeout
from domain.model import PortMapping
from ports.network import PodNetworkRequest
from tests.unit.cni.conftest import FakePlugins, write_conflist

ID = "1" * 64


@pytest.fixture
def netns(tmp_path: Path) -> Path:
    path = tmp_path / "netns-file"  # stands in for a pinned namespace: the fakes never enter it
    path.touch()
    return path


def request(netns: Path | str, sandbox_id: str = ID, **kw: object) -> PodNetworkRequest:
    return PodNetworkRequest(
        sandbox_id=sandbox_id,
        netns_path=str(netns),
        pod_name="web",
        pod_namespace="default",
        pod_uid="uid-1",
        **kw,  # type: ignore[arg-type]
    )


def network(tmp_path: Path, fakes: FakePlugins, **kw: object) -> CniNetwork:
    return CniNetwork(
        conf_dir=str(tmp_path / "net.d"),
        bin_dirs=[str(tmp_path / "empty-bin"), str(fakes.bin_dir)],
        cache_dir=str(tmp_path / "cache"),
        **kw,  # type: ignore[arg-type]
    )


CHAIN: list[dict[str, Any]] = [
    {"type": "fake-a", "ip": "10.7.0.9/24"},
    {"type": "fake-b", "ip": "fd00::9/64", "capabilities": {"portMappings": True}},
    {"type": "fake-c"},
]


async def test_add_in_order_with_prev_result_then_del_in_reverse(
    tmp_path: Path, fakes: FakePlugins, netns: Path
) -> None:
    write_conflist(tmp_path / "net.d", CHAIN)
    net = network(tmp_path, fakes)
    ports = (PortMapping(container_port=80, host_port=8080),)
    result = await net.setup(request(netns, port_mappings=ports))
    assert result.ips == ("10.7.0.9", "fd00::9")
    calls = fakes.calls()
    assert [c["plugin"] for c in calls] == ["fake-a", "fake-b", "fake-c"]
    assert "prevResult" not in calls[0]["conf"]
    assert calls[1]["conf"]["prevResult"]["ips"] == [{"address": "10.7.0.9/24", "interface": 0}]
    assert len(calls[2]["conf"]["prevResult"]["ips"]) == 2
    for call in calls:
        assert call["conf"]["name"] == "fakenet"
        assert call["conf"]["cniVersion"] == "1.0.0"
        assert call["env"]["CNI_NETNS"] == str(netns)
        assert call["env"]["CNI_CONTAINERID"] == ID
        assert call["env"]["CNI_IFNAME"] == "eth0"
        assert call["env"]["CNI_PATH"].endswith(str(fakes.bin_dir))
        assert "K8S_POD_UID=uid-1" in call["env"]["CNI_ARGS"]
    assert "runtimeConfig" not in calls[0]["conf"]
    assert calls[1]["conf"]["runtimeConfig"] == {
        "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": ""}]
    }
    assert await net.owned() == [ID]

    fakes.log.unlink()
    await net.teardown(request(netns))
    calls = fakes.calls()
    assert [c["plugin"] for c in calls] == ["fake-c", "fake-b", "fake-a"]
    assert all(c["env"]["CNI_COMMAND"] == "DEL" for c in calls)
    assert len(calls[0]["conf"]["prevResult"]["ips"]) == 2  # the cached ADD result
    assert await net.owned() == []
    assert os.listdir(tmp_path / "cache" / "results") == []


async def test_teardown_is_idempotent(tmp_path: Path, fakes: FakePlugins, netns: Path) -> None:
    write_conflist(tmp_path / "net.d", CHAIN)
    net = network(tmp_path, fakes)
    await net.setup(request(netns))
    await net.teardown(request(netns))
    await net.teardown(request(netns))  # no cache: DEL with the current config, no prevResult
    dels = [c for c in fakes.calls() if c["env"]["CNI_COMMAND"] == "DEL"]
    assert len(dels) == 6
    assert all("prevResult" not in c["conf"] for c in dels[3:])
    assert net._locks == {}  # the per-sandbox locks do not pile up


async def test_setup_and_teardown_of_one_sandbox_do_not_interleave(
    tmp_path: Path, fakes: FakePlugins, netns: Path
) -> None:
    write_conflist(tmp_path / "net.d", CHAIN)
    net = network(tmp_path, fakes)
    await asyncio.gather(net.setup(request(netns)), net.teardown(request(netns)))
    commands = [c for c, _ in fakes.commands()]
    assert commands in (["ADD"] * 3 + ["DEL"] * 3, ["DEL"] * 3 + ["ADD"] * 3)
    await net.teardown(request(netns))
    assert await net.owned() == []
    assert net._locks == {}


async def test_teardown_after_restart_uses_cache_even_when_config_changed(
    tmp_path: Path, fakes: FakePlugins, netns: Path
) -> None:
    write_conflist(tmp_path / "net.d", CHAIN, name="oldnet")
    await network(tmp_path, fakes).setup(request(netns))
    # The admin replaces the network; hexcri restarts; the netns is gone (node reboot).
    for f in (tmp_path / "net.d").iterdir():
        f.unlink()
    write_conflist(tmp_path / "net.d", [{"type": "fake-c"}], name="newnet")
    await asyncio.to_thread(netns.unlink)
    fakes.log.unlink()
    restarted = network(tmp_path, fakes)
    assert await restarted.owned() == [ID]
    # Recovery knows only the sandbox ID.
    await restarted.teardown(
        PodNetworkRequest(sandbox_id=ID, netns_path="", pod_name="", pod_namespace="", pod_uid="")
    )
    calls = fakes.calls()
    assert [c["plugin"] for c in calls] == ["fake-c", "fake-b", "fake-a"]
    for call in calls:
        assert call["conf"]["name"] == "oldnet"
        assert call["env"]["CNI_NETNS"] == ""
        assert "K8S_POD_NAME=web" in call["env"]["CNI_ARGS"]  # from the cache
    assert await restarted.owned() == []


async def test_failing_plugin_error_is_clear_and_chain_is_deleted(
    tmp_path: Path, fakes: FakePlugins, netns: Path
) -> None:
    chain = [dict(CHAIN[0]), {"type": "fake-b", "fail": "ADD"}, {"type": "fake-c"}]
    write_conflist(tmp_path / "net.d", chain)
    net = network(tmp_path, fakes)
    with pytest.raises(CniPluginError) as info:
        await net.setup(request(netns))
    err = info.value
    assert (err.plugin, err.code, err.msg, err.details) == (
        "fake-b",
        7,
        "bad thing",
        "more about it",
    )
    assert "plugin said no" in err.stderr
    assert "fake-b" in str(err) and "bad thing" in str(err) and "plugin said no" in str(err)
    assert fakes.commands() == [
        ("ADD", "fake-a"),
        ("ADD", "fake-b"),
        ("DEL", "fake-c"),
        ("DEL", "fake-b"),
        ("DEL", "fake-a"),
    ]
    assert fakes.calls()[2]["conf"]["prevResult"]["ips"][0]["address"] == "10.7.0.9/24"
    assert await net.owned() == []


async def test_missing_plugin_binary(tmp_path: Path, fakes: FakePlugins, netns: Path) -> None:
    write_conflist(tmp_path / "net.d", [CHAIN[0], {"type": "no-such-plugin"}])
    net = network(tmp_path, fakes)
    with pytest.raises(CniPluginError, match="failed to find plugin 'no-such-plugin'"):
        await net.setup(request(netns))
    # The DEL of the chain skips past the missing plugin: what did run gets its DEL.
    assert fakes.commands() == [("ADD", "fake-a"), ("DEL", "fake-a")]
    assert await net.owned() == []


async def test_garbage_answer(tmp_path: Path, fakes: FakePlugins, netns: Path) -> None:
    write_conflist(tmp_path / "net.d", [{"type": "fake-a", "garbage": True}])
    with pytest.raises(CniPluginError, match="invalid JSON"):
        await network(tmp_path, fakes).setup(request(netns))


async def test_hanging_plugin_is_killed_and_the_chain_deleted(
    tmp_path: Path, fakes: FakePlugins, netns: Path
) -> None:
    write_conflist(tmp_path / "net.d", [CHAIN[0], {"type": "fake-b", "hang": "ADD"}])
    net = network(tmp_path, fakes, plugin_timeout=1.0)
    with pytest.raises(CniTimeout, match="did not answer"):
        await net.setup(request(netns))
    pid = fakes.hung_pid()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert fakes.commands()[-2:] == [("DEL", "fake-b"), ("DEL", "fake-a")]
    assert await net.owned() == []


async def test_cancelled_setup_kills_the_plugin_and_deletes(
    tmp_path: Path, fakes: FakePlugins, netns: Path
) -> None:
    write_conflist(tmp_path / "net.d", [{"type": "fake-a", "hang": "ADD"}])
    net = network(tmp_path, fakes, plugin_timeout=60.0)
    task = asyncio.create_task(net.setup(request(netns)))
    await asyncio.to_thread(fakes.wait_hung)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(ProcessLookupError):
        os.kill(fakes.hung_pid(), 0)
    assert fakes.commands()[-1] == ("DEL", "fake-a")


async def test_teardown_survives_the_callers_cancellation(
    tmp_path: Path, fakes: FakePlugins, netns: Path
) -> None:
    write_conflist(tmp_path / "net.d", CHAIN)
    net = network(tmp_path, fakes)
    await net.setup(request(netns))
    task = asyncio.create_task(net.teardown(request(netns)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The DEL goes on in the background; a second teardown waits for it (one per sandbox at a
    # time), then finds no cache and runs DEL once more from the current config.
    await net.teardown(request(netns))
    dels = [c for c in fakes.calls() if c["env"]["CNI_COMMAND"] == "DEL"]
    assert len(dels) == 6
    assert all("prevResult" in c["conf"] for c in dels[:3])
    assert all("prevResult" not in c["conf"] for c in dels[3:])
    assert await net.owned() == []


async def test_check_uses_the_cached_result(
    tmp_path: Path, fakes: FakePlugins, netns: Path
) -> None:
    write_conflist(tmp_path / "net.d", CHAIN)
    net = network(tmp_path, fakes)
    await net.setup(request(netns))
    await net.check(request(netns))
    checks = [c for c in fakes.calls() if c["env"]["CNI_COMMAND"] == "CHECK"]
    assert [c["plugin"] for c in checks] == ["fake-a", "fake-b", "fake-c"]
    assert all(len(c["conf"]["prevResult"]["ips"]) == 2 for c in checks)


async def test_condition_follows_the_conf_dir(tmp_path: Path, fakes: FakePlugins) -> None:
    net = network(tmp_path, fakes)
    cond = net.condition()
    assert (cond.type, cond.status, cond.reason) == (
        "NetworkReady",
        False,
        "NetworkPluginNotReady",
    )
    assert "no network config found" in cond.message
    with pytest.raises(CniNotReady):
        await net.setup(request(tmp_path))
    path = write_conflist(tmp_path / "net.d", CHAIN)
    assert net.condition().status is True
    path.write_text(json.dumps({"name": "x", "cniVersion": "1.0.0", "plugins": []}))
    cond = net.condition()
    assert cond.status is False and "no plugins" in cond.message
    with pytest.raises(CniConfigError):
        await net.setup(request(tmp_path))
    assert fakes.calls() == []


async def test_pod_cidr_reaches_plugins_declaring_ip_ranges(
    tmp_path: Path, fakes: FakePlugins, netns: Path
) -> None:
    write_conflist(
        tmp_path / "net.d",
        [{"type": "fake-a", "ip": "10.7.0.9/24", "capabilities": {"ipRanges": True}}],
    )
    net = network(tmp_path, fakes)
    net.update_pod_cidr("10.244.3.0/24")
    await net.setup(request(netns))
    assert fakes.calls()[0]["conf"]["runtimeConfig"] == {
        "ipRanges": [[{"subnet": "10.244.3.0/24"}]]
    }


async def test_an_add_interrupted_by_a_crash_is_deleted_after_restart_with_its_config(
    tmp_path: Path, fakes: FakePlugins, netns: Path
) -> None:
    """hexcri killed while a plugin runs ADD: what the restarted one finds on disk is the ADD's
    intent, so recovery DELs the sandbox with that ADD's config even when the conf dir has
    changed in between (here: no config at all), and IPAM frees what fake-a took."""
    write_conflist(tmp_path / "net.d", [CHAIN[0], {"type": "fake-b", "hang": "ADD"}], "oldnet")
    crashed = network(tmp_path, fakes, plugin_timeout=60.0)
    adding = asyncio.create_task(crashed.setup(request(netns)))
    try:
        await asyncio.to_thread(fakes.wait_hung)
        assert os.listdir(tmp_path / "cache" / "hexcri-adds") != []
        for f in (tmp_path / "net.d").iterdir():
            f.unlink()
        restarted = network(tmp_path, fakes)  # the disk as a SIGKILL leaves it
        assert await restarted.owned() == [ID]
        await restarted.teardown(
            PodNetworkRequest(
                sandbox_id=ID, netns_path="", pod_name="", pod_namespace="", pod_uid=""
            )
        )
        dels = [c for c in fakes.calls() if c["env"]["CNI_COMMAND"] == "DEL"]
        assert [c["plugin"] for c in dels] == ["fake-b", "fake-a"]
        assert all(c["conf"]["name"] == "oldnet" and "prevResult" not in c["conf"] for c in dels)
        assert all("K8S_POD_NAME=web" in c["env"]["CNI_ARGS"] for c in dels)
        assert await restarted.owned() == []
        assert os.listdir(tmp_path / "cache" / "hexcri-adds") == []
    finally:
        adding.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await adding


async def test_a_finished_or_failed_add_leaves_no_intent(
    tmp_path: Path, fakes: FakePlugins, netns: Path
) -> None:
    write_conflist(tmp_path / "net.d", CHAIN)
    net = network(tmp_path, fakes)
    await net.setup(request(netns))
    assert os.listdir(tmp_path / "cache" / "hexcri-adds") == []
    await net.teardown(request(netns))
    write_conflist(tmp_path / "net.d", [CHAIN[0], {"type": "fake-b", "fail": "ADD"}])
    with pytest.raises(CniPluginError):
        await net.setup(request(netns))
    assert os.listdir(tmp_path / "cache" / "hexcri-adds") == []
    assert await net.owned() == []


async def test_owned_names_only_this_instances_sandboxes(
    tmp_path: Path, fakes: FakePlugins, netns: Path
) -> None:
    """Two hexcri sharing a cache dir: recovery of one never tears down the other's pods."""
    write_conflist(tmp_path / "net.d", CHAIN)
    ours = network(tmp_path, fakes, instance="aaaa1111")
    theirs = network(tmp_path, fakes, instance="bbbb2222")
    await ours.setup(request(netns))
    assert await ours.owned() == [ID]
    assert await theirs.owned() == []
    await ours.teardown(request(netns))
