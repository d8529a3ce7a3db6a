"""Pod networking as kubelet sees it: hexcri on the real stack (containerd, runc, the CNI
bridge network 10.88.78.0/24, a local registry), driven only through its CRI socket.

Traffic goes only to the pod network these tests create and to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from tests.e2e.conftest import Cri
from tests.support.cni import free_port
from tests.support.stack import BUSYBOX, Stack, cni_plugins, mounts_under

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]

SUBNET_PREFIX = "10.88.78."
PAGE = "hello from the pod network"
SERVE = f"mkdir -p /srv && echo '{PAGE}' > /srv/index.html && exec httpd -f -p 8080 -h /srv"
SLEEP = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]


# --- helpers ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def connect(stack: Stack) -> AsyncIterator[Cri]:
    async with grpc.aio.insecure_channel(f"unix://{stack.socket}") as channel:
        yield Cri(cri_grpc.RuntimeServiceStub(channel), cri_grpc.ImageServiceStub(channel))


@pytest.fixture
async def real(stack: Stack) -> AsyncIterator[Cri]:
    async with connect(stack) as c:
        await c.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=BUSYBOX)))
        yield c


def pod_config(
    name: str,
    logs: Path,
    *,
    host_network: bool = False,
    ports: tuple[cri.PortMapping, ...] = (),
    dns: cri.DNSConfig | None = None,
) -> cri.PodSandboxConfig:
    mode = cri.NODE if host_network else cri.POD
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=name, uid=f"uid-{name}", namespace="e2e-net"),
        hostname="" if host_network else name,  # kubelet sends none with the host network
        log_directory=str(logs),
        port_mappings=list(ports),
        dns_config=dns,
        linux=cri.LinuxPodSandboxConfig(
            cgroup_parent=f"/hexcri-e2e-net-{name}",
            security_context=cri.LinuxSandboxSecurityContext(
                namespace_options=cri.NamespaceOption(network=mode, pid=cri.CONTAINER)
            ),
        ),
    )


async def run_pod(c: Cri, config: cri.PodSandboxConfig) -> str:
    reply = await c.runtime.RunPodSandbox(cri.RunPodSandboxRequest(config=config))
    return str(reply.pod_sandbox_id)


async def pod_status(c: Cri, sid: str) -> cri.PodSandboxStatus:
    request = cri.PodSandboxStatusRequest(pod_sandbox_id=sid)
    return (await c.runtime.PodSandboxStatus(request)).status


async def start(c: Cri, sid: str, config: cri.PodSandboxConfig, name: str, cmd: list[str]) -> str:
    request = cri.CreateContainerRequest(
        pod_sandbox_id=sid,
        config=cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name=name),
            image=cri.ImageSpec(image="busybox"),
            command=cmd,
            log_path=f"{name}.log",
        ),
        sandbox_config=config,
    )
    cid = str((await c.runtime.CreateContainer(request)).container_id)
    await c.runtime.StartContainer(cri.StartContainerRequest(container_id=cid))
    return cid


async def wait_state(c: Cri, cid: str, state: int, seconds: float = 30) -> cri.ContainerStatus:
    for _ in range(int(seconds / 0.1)):
        st = (await c.runtime.ContainerStatus(cri.ContainerStatusRequest(container_id=cid))).status
        if st.state == state:
            return st
        await asyncio.sleep(0.1)
    raise AssertionError(f"container {cid} never reached state {state}: {st}")


async def exec_sync(c: Cri, cid: str, cmd: list[str]) -> cri.ExecSyncResponse:
    return await c.runtime.ExecSync(cri.ExecSyncRequest(container_id=cid, cmd=cmd, timeout=10))


async def fetch_until(c: Cri, cid: str, url: str, attempts: int = 100) -> str:
    """`wget` from inside a container until the server answers (it may still be starting)."""
    for _ in range(attempts):
        result = await exec_sync(c, cid, ["wget", "-qO-", url])
        if result.exit_code == 0:
            return result.stdout.decode()
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered: {result.stderr.decode()}")


async def remove_pod(c: Cri, sid: str) -> None:
    await c.runtime.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sid))
    await c.runtime.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))


def write_plugin(stack: Stack, kind: str, body: str) -> Path:
    """An executable CNI plugin in the stack's own bin dir, written in Python."""
    path = stack.cni_bin_dir / kind
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return path


def write_chain(stack: Stack, extra: dict[str, object], index: int = 1) -> None:
    """The stack's network config with `extra` inserted at `index` of its plugin list."""
    plugins = cni_plugins(stack.cni, "10.88.78.0/24", "10.88.78.1")
    plugins.insert(index, extra)
    stack.cni.write_config(plugins)


def active_snapshots(stack: Stack) -> list[str]:
    """Snapshots that are not committed image layers (a container's rootfs)."""
    lines = stack.containerd.ctr("snapshots", "ls").splitlines()[1:]
    return [line for line in lines if line.split() and line.split()[-1] != "Committed"]


def assert_nothing_left(stack: Stack, runtime: bool = True) -> None:
    """No pod state of any kind: netns, CNI cache, IP, nat rules and (unless `runtime` is
    false) runtime container/task/rootfs and sandbox files."""
    assert stack.cni.pinned() == []
    assert stack.cni.cached() == [] and stack.cni.pending() == []
    assert stack.cni.allocations() == []
    assert stack.cni.nat_rules() == []
    if runtime:
        assert_no_runtime_leftovers(stack)


async def rolled_back(stack: Stack, seconds: float = 30) -> None:
    """Wait (bounded) until `assert_nothing_left` holds."""
    for _ in range(int(seconds / 0.1)):
        try:
            assert_nothing_left(stack)
            return
        except AssertionError:
            await asyncio.sleep(0.1)
    assert_nothing_left(stack)


def assert_no_runtime_leftovers(stack: Stack) -> None:
    assert stack.containerd.ctr("containers", "ls", "-q").split() == []
    assert stack.containerd.ctr("tasks", "ls", "-q").split() == []
    assert active_snapshots(stack) == []
    sandboxes = stack.hexcri_root / "sandboxes"
    assert not sandboxes.exists() or os.listdir(sandboxes) == []
    assert mounts_under(stack.hexcri_root) == []


async def network_ready(c: Cri) -> cri.RuntimeCondition:
    conditions = (await c.runtime.Status(cri.StatusRequest())).status.conditions
    return next(x for x in conditions if x.type == "NetworkReady")


# --- tests -----------------------------------------------------------------------------------


async def test_two_pods_get_distinct_ips_and_reach_each_other(
    real: Cri, stack: Stack, tmp_path: Path
) -> None:
    server_config = pod_config("server", tmp_path)
    client_config = pod_config("client", tmp_path)
    server_pod, client_pod = await asyncio.gather(
        run_pod(real, server_config), run_pod(real, client_config)
    )
    server_ip = (await pod_status(real, server_pod)).network.ip
    client_ip = (await pod_status(real, client_pod)).network.ip
    assert server_ip.startswith(SUBNET_PREFIX) and client_ip.startswith(SUBNET_PREFIX)
    assert server_ip != client_ip
    assert sorted(stack.cni.allocations()) == sorted([server_ip, client_ip])

    await start(real, server_pod, server_config, "httpd", ["sh", "-c", SERVE])
    client = await start(real, client_pod, client_config, "client", SLEEP)
    await wait_state(real, client, cri.CONTAINER_RUNNING)
    page = await fetch_until(real, client, f"http://{server_ip}:8080/index.html")
    assert page == f"{PAGE}\n"
    # the client's own address, as the server pod sees it, is the one CRI reported
    seen = await exec_sync(real, client, ["ip", "-4", "-o", "addr", "show", "eth0"])
    assert f"inet {client_ip}/24" in seen.stdout.decode()

    await asyncio.gather(remove_pod(real, server_pod), remove_pod(real, client_pod))
    assert_nothing_left(stack)


async def test_host_port_on_loopback_reaches_the_container(
    real: Cri, stack: Stack, tmp_path: Path
) -> None:
    host_port = free_port()
    mapping = cri.PortMapping(
        protocol=cri.TCP, container_port=8080, host_port=host_port, host_ip="127.0.0.1"
    )
    config = pod_config("mapped", tmp_path, ports=(mapping,))
    sid = await run_pod(real, config)
    await start(real, sid, config, "httpd", ["sh", "-c", SERVE])
    assert stack.cni.nat_rules(), "portmap installed no DNAT rule"

    url = f"http://127.0.0.1:{host_port}/index.html"
    async with httpx.AsyncClient(timeout=5, trust_env=False) as http:
        for _ in range(100):
            with contextlib.suppress(httpx.TransportError):
                response = await http.get(url)
                if response.status_code == 200:
                    break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"{url} never answered")
    assert response.text == f"{PAGE}\n"

    await remove_pod(real, sid)
    assert_nothing_left(stack)


async def test_dns_config_and_hosts_land_in_the_pod(
    real: Cri, stack: Stack, tmp_path: Path
) -> None:
    dns = cri.DNSConfig(
        servers=["10.96.0.10", "10.96.0.11"],
        searches=["e2e-net.svc.cluster.local", "svc.cluster.local"],
        options=["ndots:5", "timeout:2"],
    )
    config = pod_config("dns", tmp_path, dns=dns)
    sid = await run_pod(real, config)
    cid = await start(real, sid, config, "main", SLEEP)
    await wait_state(real, cid, cri.CONTAINER_RUNNING)

    resolv = (await exec_sync(real, cid, ["cat", "/etc/resolv.conf"])).stdout.decode()
    assert resolv.splitlines() == [
        "search e2e-net.svc.cluster.local svc.cluster.local",
        "nameserver 10.96.0.10",
        "nameserver 10.96.0.11",
        "options ndots:5 timeout:2",
    ]
    hostname = (await exec_sync(real, cid, ["hostname"])).stdout.decode()
    assert hostname == "dns\n"
    hosts = await hosts_entries(real, cid)
    assert ["127.0.0.1", "localhost"] in hosts
    assert any(entry[1:] == ["dns"] for entry in hosts), hosts
    await remove_pod(real, sid)
    assert_nothing_left(stack)


async def hosts_entries(c: Cri, cid: str) -> list[list[str]]:
    text = (await exec_sync(c, cid, ["cat", "/etc/hosts"])).stdout.decode()
    return [line.split() for line in text.splitlines() if line and not line.startswith("#")]


async def test_pod_ip_and_hostname_are_in_etc_hosts(
    real: Cri, stack: Stack, tmp_path: Path
) -> None:
    config = pod_config("hosts", tmp_path)
    sid = await run_pod(real, config)
    ip = (await pod_status(real, sid)).network.ip
    cid = await start(real, sid, config, "main", SLEEP)
    await wait_state(real, cid, cri.CONTAINER_RUNNING)
    hosts = await hosts_entries(real, cid)
    await remove_pod(real, sid)
    assert ip.startswith(SUBNET_PREFIX) and [ip, "hosts"] in hosts, hosts


async def test_host_network_pod_has_no_namespace_or_ip(
    real: Cri, stack: Stack, tmp_path: Path
) -> None:
    config = pod_config("hostnet", tmp_path, host_network=True)
    sid = await run_pod(real, config)
    status = await pod_status(real, sid)
    assert status.network.ip == "" and list(status.network.additional_ips) == []
    assert stack.cni.pinned() == [] and stack.cni.cached() == []
    assert stack.cni.allocations() == []

    cid = await start(real, sid, config, "main", SLEEP)
    await wait_state(real, cid, cri.CONTAINER_RUNNING)
    netns = (await exec_sync(real, cid, ["readlink", "/proc/self/ns/net"])).stdout.decode()
    assert netns.strip() == os.readlink("/proc/self/ns/net")
    listed = (await exec_sync(real, cid, ["cat", "/proc/net/dev"])).stdout.decode()
    host = Path("/proc/net/dev").read_text()

    def interfaces(text: str) -> set[str]:
        return {line.split(":")[0].strip() for line in text.splitlines()[2:]}

    assert interfaces(listed) == interfaces(host)
    await remove_pod(real, sid)
    assert_nothing_left(stack)


async def test_churn_of_50_pods_leaves_nothing(real: Cri, stack: Stack, tmp_path: Path) -> None:
    mapped: list[int] = []

    async def one(i: int) -> str:
        # every pod maps a host port on 127.0.0.1 (only rules are made: no traffic is sent)
        port = cri.PortMapping(
            protocol=cri.TCP, container_port=80, host_port=31000 + i, host_ip="127.0.0.1"
        )
        config = pod_config(f"churn-{i}", tmp_path, ports=(port,))
        sid = await run_pod(real, config)
        ip = (await pod_status(real, sid)).network.ip
        rules = await asyncio.to_thread(stack.cni.nat_rules)
        mapped.extend(i for rule in rules if f"--dport {31000 + i} " in rule)
        cid = await start(real, sid, config, f"job-{i}", ["sh", "-c", "echo done"])
        st = await wait_state(real, cid, cri.CONTAINER_EXITED)
        assert st.exit_code == 0
        await real.runtime.RemoveContainer(cri.RemoveContainerRequest(container_id=cid))
        await remove_pod(real, sid)
        return ip

    gate = asyncio.Semaphore(5)

    async def limited(i: int) -> str:
        async with gate:
            return await one(i)

    ips = await asyncio.gather(*(limited(i) for i in range(50)))
    assert all(ip.startswith(SUBNET_PREFIX) for ip in ips)
    assert sorted(set(mapped)) == list(range(50)), "a pod's port mapping had no DNAT rule"
    assert (await real.runtime.ListPodSandbox(cri.ListPodSandboxRequest())).items == []
    assert (await real.runtime.ListContainers(cri.ListContainersRequest())).containers == []
    assert_nothing_left(stack)


SLOW_PLUGIN = """\
import json, os, sys, time
command = os.environ.get("CNI_COMMAND")
if command == "VERSION":
    print(json.dumps({"cniVersion": "1.0.0", "supportedVersions": ["0.4.0", "1.0.0"]}))
    sys.exit(0)
conf = json.load(sys.stdin)
if command == "ADD":
    with open(%(marker)r + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(%(marker)r + ".tmp", %(marker)r)
    time.sleep(%(seconds)d)
    print(json.dumps(conf.get("prevResult") or {"cniVersion": conf["cniVersion"]}))
"""


@pytest.mark.parametrize("config_at_restart", ["same", "removed"])
async def test_kill_9_during_run_pod_sandbox_leaves_nothing(
    stack: Stack, tmp_path: Path, config_at_restart: str
) -> None:
    """SIGKILL while the CNI ADD runs; the restarted hexcri rolls the pod back. With
    `removed`, the conf dir has no config when hexcri comes back: the DEL must still run (with
    the config the ADD was given) so that the address is freed."""
    marker = tmp_path / "slow-add.pid"
    write_plugin(stack, "hexcri-slow", SLOW_PLUGIN % {"marker": str(marker), "seconds": 60})
    write_chain(stack, {"type": "hexcri-slow"})
    config = pod_config("crash", tmp_path)
    orphan = 0
    try:
        async with connect(stack) as c:
            await c.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=BUSYBOX)))
            running = asyncio.ensure_future(run_pod(c, config))
            for _ in range(600):
                if marker.exists() or running.done():
                    break
                await asyncio.sleep(0.05)
            assert marker.exists(), f"the slow plugin never ran: {running}"
            orphan = int(marker.read_text())
            # bridge + host-local are done: the pod has a netns and an address right now
            assert len(stack.cni.pinned()) == 1 and len(stack.cni.allocations()) == 1
            assert len(stack.cni.pending()) == 1
            stack.stop_hexcri(signal.SIGKILL)
            with pytest.raises(grpc.aio.AioRpcError):
                await running
        for f in stack.cni.conf_dir.iterdir():
            f.unlink()
        if config_at_restart == "same":
            stack.cni.write_config(cni_plugins(stack.cni, "10.88.78.0/24", "10.88.78.1"))
        stack.start_hexcri()

        async with connect(stack) as c:
            assert (await c.runtime.ListPodSandbox(cri.ListPodSandboxRequest())).items == []
            await rolled_back(stack)  # in the background, once hexcri serves
            stack.cni.write_config(cni_plugins(stack.cni, "10.88.78.0/24", "10.88.78.1"))
            sid = await run_pod(c, config)
            status = await pod_status(c, sid)
            assert status.state == cri.SANDBOX_READY
            assert status.network.ip.startswith(SUBNET_PREFIX)
            await remove_pod(c, sid)
            assert_nothing_left(stack)
    finally:
        if orphan:
            with contextlib.suppress(ProcessLookupError):
                os.kill(orphan, signal.SIGKILL)


async def test_missing_or_invalid_config_is_reported_and_recovers(
    real: Cri, stack: Stack, tmp_path: Path
) -> None:
    assert (await network_ready(real)).status
    (config_file,) = stack.cni.conf_dir.iterdir()
    valid = config_file.read_bytes()

    async def refused(why: str) -> None:
        condition = await network_ready(real)
        assert not condition.status
        assert condition.reason == "NetworkPluginNotReady"
        assert why in condition.message
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await run_pod(real, pod_config("nonet", tmp_path))
        assert failed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert why in str(failed.value.details())
        assert (await real.runtime.ListPodSandbox(cri.ListPodSandboxRequest())).items == []
        assert_nothing_left(stack, runtime=False)  # the runtime side: the test after this one

    config_file.unlink()
    await refused("no network config found")
    config_file.write_text('{"cniVersion": "1.0.0", "name": "hexcri-stack", "plugins": [')
    await refused("invalid JSON")
    config_file.write_text(json.dumps({"cniVersion": "1.0.0", "name": "hexcri-stack"}))
    await refused("no plugins")

    config_file.write_bytes(valid)
    assert (await network_ready(real)).status
    sid = await run_pod(real, pod_config("nonet", tmp_path))
    assert (await pod_status(real, sid)).network.ip.startswith(SUBNET_PREFIX)
    await remove_pod(real, sid)
    assert_nothing_left(stack, runtime=False)


async def test_a_run_refused_by_the_network_leaves_no_runtime_container(
    real: Cri, stack: Stack, tmp_path: Path
) -> None:
    (config_file,) = stack.cni.conf_dir.iterdir()
    config_file.unlink()
    for i in range(10):
        with pytest.raises(grpc.aio.AioRpcError):
            await run_pod(real, pod_config(f"nonet-{i}", tmp_path))
        assert_no_runtime_leftovers(stack)


FAILING_PLUGIN = """\
import json, os, sys
command = os.environ.get("CNI_COMMAND")
if command == "VERSION":
    print(json.dumps({"cniVersion": "1.0.0", "supportedVersions": ["0.4.0", "1.0.0"]}))
    sys.exit(0)
conf = json.load(sys.stdin)
if command == "ADD":
    print(json.dumps({"cniVersion": conf["cniVersion"], "code": 11,
                      "msg": %(message)r, "details": "pod refused by the test"}))
    sys.exit(1)
"""


async def test_failing_plugin_during_add_leaves_nothing(
    real: Cri, stack: Stack, tmp_path: Path
) -> None:
    message = f"no address for you {secrets.token_hex(4)}"
    write_plugin(stack, "hexcri-refuse", FAILING_PLUGIN % {"message": message})
    write_chain(stack, {"type": "hexcri-refuse"})
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await run_pod(real, pod_config("refused", tmp_path))
    assert message in str(failed.value.details())
    assert "hexcri-refuse" in str(failed.value.details())
    assert (await real.runtime.ListPodSandbox(cri.ListPodSandboxRequest())).items == []
    assert_nothing_left(stack)
