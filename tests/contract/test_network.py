"""The NetworkNamespaces and PodNetwork contract: the memory fakes and netns + CNI plugins.

The real side is a private bridge network (`tests/support/cni.py`) with host-local IPAM on
`SUBNET`; the fake allocates from the same subnet. A per-backend `Driver` does what the ports
cannot: take the network configuration away, or declare the `ipRanges` capability.
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from adapters.memory.network import MemoryNamespaces, MemoryNetwork
from domain.errors import FailedPrecondition, Internal, NotFound
from domain.ids import new_id
from ports.network import NetworkNamespaces, PodNetwork, PodNetworkRequest
from tests.support.cni import GATEWAY, SUBNET, CniEnv

POD_CIDR = "10.88.76.0/24"  # given by update_pod_cidr; no other suite uses it
SMALL = "10.88.77.0/30"  # in SUBNET: a gateway and one pod address


@dataclass
class Driver:
    namespaces: NetworkNamespaces
    network: PodNetwork

    def unconfigure(self) -> None:
        """Take the network configuration away."""
        raise NotImplementedError

    def declare_ip_ranges(self) -> None:
        """Let the pod CIDR reach the IPAM (a chain declaring the `ipRanges` capability)."""
        raise NotImplementedError

    def use_subnet(self, cidr: str) -> None:
        """Allocate from `cidr` (its first address is the gateway)."""
        raise NotImplementedError

    def ping_gateway(self, netns_path: str) -> None:
        """Send a packet from the pod to its gateway (and take the answer)."""
        raise NotImplementedError


class MemoryDriver(Driver):
    def __init__(self) -> None:
        namespaces = MemoryNamespaces()
        self.fake = MemoryNetwork(cidr=SUBNET, namespaces=namespaces)
        super().__init__(namespaces=namespaces, network=self.fake)

    def ping_gateway(self, netns_path: str) -> None:
        """The fake's pods see simulated traffic anyway."""

    def unconfigure(self) -> None:
        self.fake.ready = False

    def declare_ip_ranges(self) -> None:
        """The fake always allocates from the pod CIDR it was given."""

    def use_subnet(self, cidr: str) -> None:
        self.fake.update_pod_cidr(cidr)


class CniDriver(Driver):
    def __init__(self, env: CniEnv) -> None:
        self.env = env
        super().__init__(namespaces=env.namespaces(), network=env.network())

    def unconfigure(self) -> None:
        for path in self.env.conf_dir.iterdir():
            path.unlink()

    def declare_ip_ranges(self) -> None:
        plugins = self.env.plugins()
        plugins[0]["capabilities"] = {"ipRanges": True}
        del plugins[0]["ipam"]["ranges"]  # host-local would allocate from these as well
        self.env.write_config(plugins)

    def use_subnet(self, cidr: str) -> None:
        plugins = self.env.plugins()
        gateway = str(next(ipaddress.ip_network(cidr).hosts()))
        plugins[0]["ipam"]["ranges"] = [[{"subnet": cidr, "gateway": gateway}]]
        self.env.write_config(plugins)

    def ping_gateway(self, netns_path: str) -> None:
        ping = ["nsenter", f"--net={netns_path}", "busybox", "ping", "-c", "1", "-W", "5"]
        subprocess.run([*ping, GATEWAY], check=True, capture_output=True, timeout=30)


@pytest.fixture(params=["memory", pytest.param("cni", marks=pytest.mark.cni)])
def driver(request: pytest.FixtureRequest) -> Driver:
    if request.param == "memory":
        return MemoryDriver()
    return CniDriver(request.getfixturevalue("cni_env"))


@dataclass
class Pod:
    request: PodNetworkRequest
    ips: tuple[str, ...]


class Pods:
    """Pods set up as RunPodSandbox does (netns, then ADD); what is left is torn down."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.made: list[PodNetworkRequest] = []

    async def request(self, sandbox_id: str | None = None) -> PodNetworkRequest:
        sandbox_id = sandbox_id or new_id()
        path = await self.driver.namespaces.create(sandbox_id)
        request = PodNetworkRequest(
            sandbox_id=sandbox_id,
            netns_path=path,
            pod_name=f"pod-{sandbox_id[:6]}",
            pod_namespace="contract",
            pod_uid=f"uid-{sandbox_id[:8]}",
        )
        self.made.append(request)
        return request

    async def up(self) -> Pod:
        request = await self.request()
        result = await self.driver.network.setup(request)
        return Pod(request, result.ips)

    async def close(self) -> None:
        for request in self.made:
            await self.driver.network.teardown(request)
            await self.driver.namespaces.remove(request.netns_path)


@pytest.fixture
async def pods(driver: Driver) -> AsyncIterator[Pods]:
    made = Pods(driver)
    yield made
    await made.close()


# --- namespaces -------------------------------------------------------------------------------


async def test_namespace_is_listed_until_removed(driver: Driver) -> None:
    namespaces = driver.namespaces
    path = await namespaces.create(new_id())
    assert path and await namespaces.list() == [path]
    await namespaces.remove(path)
    assert await namespaces.list() == []
    await namespaces.remove(path)  # idempotent


async def test_namespaces_are_one_per_sandbox(driver: Driver) -> None:
    """Sandboxes whose IDs share a long prefix still get namespaces of their own."""
    namespaces = driver.namespaces
    prefix = new_id()[:32]
    first, second = prefix + new_id()[:32], prefix + new_id()[:32]
    a, b = await namespaces.create(first), await namespaces.create(second)
    assert a != b and await namespaces.list() == sorted([a, b])
    await namespaces.remove(a)
    assert await namespaces.list() == [b]
    await namespaces.remove(b)


async def test_interfaces_of_a_new_namespace(driver: Driver) -> None:
    """Only the loopback, up, is there; nothing has passed through it."""
    path = await driver.namespaces.create(new_id())
    try:
        (lo,) = await driver.namespaces.interface_stats(path)
        assert lo.name == "lo" and lo.rx_errors == lo.tx_errors == 0
    finally:
        await driver.namespaces.remove(path)
    with pytest.raises(NotFound):
        await driver.namespaces.interface_stats(path)


async def test_namespace_of_a_sandbox_is_made_once(driver: Driver) -> None:
    namespaces = driver.namespaces
    sandbox_id = new_id()
    path = await namespaces.create(sandbox_id)
    with pytest.raises(Internal):
        await namespaces.create(sandbox_id)
    assert await namespaces.list() == [path]
    await namespaces.remove(path)


# --- setup and teardown -----------------------------------------------------------------------


async def test_pods_get_distinct_addresses_in_the_subnet(pods: Pods) -> None:
    a, b = await pods.up(), await pods.up()
    assert len(a.ips) == len(b.ips) == 1 and a.ips != b.ips
    subnet = ipaddress.ip_network(SUBNET)
    for ip in a.ips + b.ips:
        assert ipaddress.ip_address(ip) in subnet and ip != GATEWAY


async def test_owned_names_the_pods_set_up(driver: Driver, pods: Pods) -> None:
    assert await driver.network.owned() == []
    a, b = await pods.up(), await pods.up()
    ids = sorted([a.request.sandbox_id, b.request.sandbox_id])
    assert sorted(await driver.network.owned()) == ids
    await driver.network.teardown(a.request)
    assert await driver.network.owned() == [b.request.sandbox_id]


async def test_interface_stats_count_the_pods_traffic(driver: Driver, pods: Pods) -> None:
    pod = await pods.up()
    path = pod.request.netns_path
    before = {i.name: i for i in await driver.namespaces.interface_stats(path)}
    assert set(before) == {"lo", "eth0"}  # the chain's ADD made the pod's eth0
    driver.ping_gateway(path)
    after = {i.name: i for i in await driver.namespaces.interface_stats(path)}
    eth0 = after["eth0"]
    assert eth0.rx_bytes > before["eth0"].rx_bytes and eth0.tx_bytes > before["eth0"].tx_bytes
    assert eth0.rx_errors == eth0.tx_errors == 0
    await driver.network.teardown(pod.request)
    assert [i.name for i in await driver.namespaces.interface_stats(path)] == ["lo"]


async def test_teardown_is_idempotent(driver: Driver, pods: Pods) -> None:
    pod = await pods.up()
    await driver.network.teardown(pod.request)
    await driver.network.teardown(pod.request)
    assert await driver.network.owned() == []


async def test_teardown_after_the_namespace_is_gone(driver: Driver, pods: Pods) -> None:
    pod = await pods.up()
    await driver.namespaces.remove(pod.request.netns_path)
    await driver.network.teardown(pod.request)
    assert await driver.network.owned() == []


async def test_teardown_of_an_unknown_pod_is_fine(driver: Driver, pods: Pods) -> None:
    pod = await pods.up()
    unknown = PodNetworkRequest(
        sandbox_id=new_id(), netns_path="", pod_name="gone", pod_namespace="x", pod_uid="u"
    )
    await driver.network.teardown(unknown)
    assert await driver.network.owned() == [pod.request.sandbox_id]


async def test_exhausted_range_fails_and_keeps_nothing(driver: Driver, pods: Pods) -> None:
    driver.use_subnet(SMALL)  # one address besides the gateway
    first = await pods.up()
    assert [ipaddress.ip_address(ip) in ipaddress.ip_network(SMALL) for ip in first.ips] == [True]
    with pytest.raises(Internal):
        await pods.up()
    assert await driver.network.owned() == [first.request.sandbox_id]


# --- readiness and the pod CIDR ---------------------------------------------------------------


async def test_not_ready_without_configuration(driver: Driver, pods: Pods) -> None:
    ready = driver.network.condition()
    assert (ready.type, ready.status) == ("NetworkReady", True)
    driver.unconfigure()
    down = driver.network.condition()
    assert (down.type, down.status, down.reason) == (
        "NetworkReady",
        False,
        "NetworkPluginNotReady",
    )
    request = await pods.request()
    with pytest.raises(FailedPrecondition):
        await driver.network.setup(request)
    assert await driver.network.owned() == []


async def test_info_shows_the_loaded_network_and_the_load_status(driver: Driver) -> None:
    """What `crictl info` shows as `cniconfig` and `lastCNILoadStatus`."""
    info = driver.network.info()
    assert info.last_load_status == "OK"
    assert "eth0" in [n["IFName"] for n in info.config["Networks"]]
    driver.unconfigure()
    down = driver.network.info()
    assert down.last_load_status.startswith("cni config load failed")
    assert "eth0" not in [n["IFName"] for n in down.config.get("Networks", [])]


async def test_pod_cidr_reaches_the_ipam(driver: Driver, pods: Pods) -> None:
    driver.declare_ip_ranges()
    driver.network.update_pod_cidr(POD_CIDR)
    pod = await pods.up()
    assert [ipaddress.ip_address(ip) in ipaddress.ip_network(POD_CIDR) for ip in pod.ips] == [True]
