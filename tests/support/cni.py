"""Real CNI plugins on a private test network, cleaned up by the fixture.

`cni_env` gives each test its own conf dir (a `.conflist` with bridge `hexcri-test0`,
host-local IPAM on 10.88.77.0/24 with its own data dir, portmap and loopback), netns dir and
cache dir, all in a temp dir, under a network name unique to the test. Teardown DELs whatever
is still cached, unpins leftover namespaces, deletes the bridge and the test network's iptables
rules, and removes the temp dir. The session restores `net.ipv4.ip_forward`, which the bridge
plugin turns on for a gateway bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pyroute2 import IPRoute

from adapters.cni import CniNetwork
from adapters.netns import PyrouteNamespaces
from ports.network import PodNetworkRequest

CNI_BIN = "/usr/lib/cni"
BRIDGE = "hexcri-test0"
SUBNET = "10.88.77.0/24"
GATEWAY = "10.88.77.1"
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


def free_port() -> int:
    """A TCP port nobody listens on at the moment, on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cni_available() -> bool:
    return os.geteuid() == 0 and all(
        os.access(f"{CNI_BIN}/{p}", os.X_OK)
        for p in ("bridge", "host-local", "portmap", "loopback")
    )


@dataclass
class CniEnv:
    """A test network: its dirs, its config and helpers to inspect what it allocated."""

    root: Path
    network_name: str
    bridge: str = BRIDGE
    subnet: str = SUBNET
    bin_dirs: list[str] = field(default_factory=lambda: [CNI_BIN])

    @property
    def conf_dir(self) -> Path:
        return self.root / "net.d"

    @property
    def netns_dir(self) -> Path:
        return self.root / "netns"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def data_dir(self) -> Path:
        """host-local's dataDir: one file per allocated address under <network name>/."""
        return self.root / "ipam"

    def plugins(self, portmap: bool = True) -> list[dict[str, Any]]:
        chain: list[dict[str, Any]] = [
            {
                "type": "bridge",
                "bridge": self.bridge,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": self.subnet, "gateway": GATEWAY}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(self.data_dir),
                },
            }
        ]
        if portmap:
            chain.append({"type": "portmap", "capabilities": {"portMappings": True}})
        chain.append({"type": "loopback"})
        return chain

    def write_config(
        self,
        plugins: list[dict[str, Any]] | None = None,
        filename: str = "10-hexcri-test.conflist",
        version: str = "1.0.0",
    ) -> Path:
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        doc = {
            "cniVersion": version,
            "name": self.network_name,
            "plugins": self.plugins() if plugins is None else plugins,
        }
        path = self.conf_dir / filename
        path.write_text(json.dumps(doc, indent=2))
        return path

    def network(self, **kw: Any) -> CniNetwork:
        kw.setdefault("plugin_timeout", 20.0)
        kw.setdefault("bin_dirs", self.bin_dirs)
        return CniNetwork(conf_dir=str(self.conf_dir), cache_dir=str(self.cache_dir), **kw)

    def namespaces(self) -> PyrouteNamespaces:
        return PyrouteNamespaces(str(self.netns_dir))

    def allocations(self) -> list[str]:
        """The addresses host-local holds for this network."""
        d = self.data_dir / self.network_name
        if not d.is_dir():
            return []
        skip = ("lock",)
        return sorted(
            n for n in os.listdir(d) if n not in skip and not n.startswith("last_reserved_ip")
        )

    def cached(self) -> list[str]:
        d = self.cache_dir / "results"
        return sorted(os.listdir(d)) if d.is_dir() else []

    def pending(self) -> list[str]:
        """ADDs in flight (hexcri records each before running it)."""
        d = self.cache_dir / "hexcri-adds"
        return sorted(os.listdir(d)) if d.is_dir() else []

    def pinned(self) -> list[str]:
        return sorted(os.listdir(self.netns_dir)) if self.netns_dir.is_dir() else []

    def nat_rules(self) -> list[str]:
        """This network's iptables nat rules (portmap tags them with the network name)."""
        out = subprocess.run(
            ["iptables-save", "-t", "nat"], capture_output=True, text=True, check=True
        ).stdout
        tag = f'name: \\"{self.network_name}\\"'
        rules = [line for line in out.splitlines() if line.startswith("-A ")]
        tagged = [r for r in rules if tag in r]
        chains = {_target(r) for r in tagged} - {""}
        return tagged + [r for r in rules if r.split()[1] in chains]

    # --- cleanup ------------------------------------------------------------------------

    async def cleanup(self) -> None:
        if self.conf_dir.exists():
            network = self.network()
            for sandbox_id in await network.owned():
                with contextlib.suppress(Exception):
                    await network.teardown(_bare_request(sandbox_id))
        for name in self.pinned():
            with contextlib.suppress(Exception):
                await self.namespaces().remove(str(self.netns_dir / name))
        _umount(self.netns_dir)
        self._delete_nat_rules()
        await asyncio.to_thread(_delete_link, self.bridge)
        shutil.rmtree(self.root, ignore_errors=True)

    def _delete_nat_rules(self) -> None:
        rules = self.nat_rules()
        chains = {_target(r) for r in rules} - {""}
        for rule in rules:
            if rule.split()[1] not in chains:
                args = shlex.split(rule)[1:]
                subprocess.run(["iptables", "-t", "nat", "-D", *args], capture_output=True)
        for chain in chains:
            subprocess.run(["iptables", "-t", "nat", "-F", chain], capture_output=True)
            subprocess.run(["iptables", "-t", "nat", "-X", chain], capture_output=True)


def _target(rule: str) -> str:
    """The per-container chain a tagged rule jumps to (portmap's CNI-DN-*, CNI-SN-*)."""
    args = shlex.split(rule)
    target = args[args.index("-j") + 1] if "-j" in args else ""
    return target if target.startswith(("CNI-DN-", "CNI-SN-")) else ""


def _bare_request(sandbox_id: str) -> PodNetworkRequest:
    return PodNetworkRequest(
        sandbox_id=sandbox_id, netns_path="", pod_name="", pod_namespace="", pod_uid=""
    )


def mounted(path: Path) -> bool:
    """Whether `path` is a mount point (a dir bind-mounted on itself included)."""
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == str(path) for line in f)


def _umount(path: Path) -> None:
    while mounted(path):
        if subprocess.run(["umount", "-l", str(path)], capture_output=True).returncode:
            break


def _delete_link(name: str) -> None:
    with IPRoute() as ipr:
        index = ipr.link_lookup(ifname=name)
        if index:
            ipr.link("del", index=index[0])


@pytest.fixture(scope="session")
def _restore_ip_forward() -> Iterator[None]:
    before = IP_FORWARD.read_text() if IP_FORWARD.exists() else None
    yield
    if before is not None and IP_FORWARD.read_text() != before:
        IP_FORWARD.write_text(before)


@pytest.fixture
async def cni_env(_restore_ip_forward: None) -> AsyncIterator[CniEnv]:
    """A private CNI network (config written) for one test; everything is removed after it."""
    if not cni_available():
        pytest.skip("needs root and the CNI plugins in /usr/lib/cni")
    root = Path(tempfile.mkdtemp(prefix="hexcri-cni-"))
    env = CniEnv(root=root, network_name=f"hexcri-test-{secrets.token_hex(4)}")
    for d in (env.conf_dir, env.netns_dir, env.cache_dir, env.data_dir):
        d.mkdir(parents=True)
    env.write_config()
    try:
        yield env
    finally:
        await env.cleanup()


@pytest.fixture
def cni_dirs() -> Iterator[CniEnv]:
    """Temp conf/netns/cache dirs without any config, for unit tests with fake plugins."""
    root = Path(tempfile.mkdtemp(prefix="hexcri-cni-unit-"))
    env = CniEnv(root=root, network_name=f"hexcri-unit-{secrets.token_hex(4)}", bin_dirs=[])
    for d in (env.conf_dir, env.cache_dir):
        d.mkdir(parents=True)
    try:
        yield env
    finally:
        shutil.rmtree(root, ignore_errors=True)
