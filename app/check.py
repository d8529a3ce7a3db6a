"""`hexcri check`: is this node ready for hexcri? One line per requirement, a fix for each miss.

Asks containerd (reachable; its own CRI plugin off, from Introspection.Plugins), the PATH
(runc and the runtime's shim), the CNI conf dir and bin dirs, the cgroup mount, the image
store or the registry (the sandbox image), and the kernel (the streaming and metrics
addresses can be bound). Read-only: it pulls nothing and changes nothing.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.settings import Settings

CRI_PLUGIN = "io.containerd.grpc.v1.cri"
TIMEOUT = 10.0


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        if self.ok:
            return f"ok    {self.name}: {self.detail}"
        return f"FAIL  {self.name}: {self.detail}; fix: {self.fix}"


Check = Callable[[Settings], Awaitable[list[Finding]]]


async def containerd(settings: Settings) -> list[Finding]:
    """containerd answers, and its CRI plugin is not running beside hexcri."""
    from adapters.containerd import api
    from adapters.containerd.client import ContainerdClient
    from domain.errors import HexcriError

    address = settings.containerd.address
    async with ContainerdClient(address, settings.containerd.namespace, reconnect_timeout=1) as c:
        try:
            version = await asyncio.wait_for(c.server_version(), TIMEOUT)
            reply = await asyncio.wait_for(
                c.introspection.Plugins(api.introspection.PluginsRequest()), TIMEOUT
            )
        except (HexcriError, TimeoutError) as exc:
            return [
                Finding(
                    "containerd",
                    False,
                    str(exc) if isinstance(exc, HexcriError) else f"no answer from {address}",
                    "start containerd (systemctl start containerd) or set containerd.address",
                )
            ]
    found = [Finding("containerd", True, f"containerd {version} at {address}")]
    cri = [p for p in reply.plugins if f"{p.type}.{p.id}" == CRI_PLUGIN]
    if cri and not cri[0].HasField("init_err"):
        found.append(
            Finding(
                "containerd CRI plugin",
                False,
                f"{CRI_PLUGIN} is running in containerd and would adopt hexcri's containers",
                f'add disabled_plugins = ["{CRI_PLUGIN}"] to /etc/containerd/config.toml '
                "(see share/hexcri/containerd-config.toml) and restart containerd",
            )
        )
    else:
        state = "failed to start" if cri else "disabled"
        found.append(Finding("containerd CRI plugin", True, f"{CRI_PLUGIN} {state}"))
    return found


async def runtime(settings: Settings) -> list[Finding]:
    """runc and the containerd shim of `containerd.runtime` are on the PATH."""
    name = settings.containerd.runtime  # io.containerd.runc.v2 -> containerd-shim-runc-v2
    parts = name.split(".")
    shim = f"containerd-shim-{parts[-2]}-{parts[-1]}" if len(parts) >= 2 else name
    found = []
    for binary, package in (("runc", "runc"), (shim, "containerd")):
        path = shutil.which(binary)
        fix = f"install it (apt-get install {package})"
        found.append(
            Finding(binary, True, path) if path else Finding(binary, False, "not on PATH", fix)
        )
    return found


async def cni(settings: Settings) -> list[Finding]:
    """A network config in conf_dir whose every plugin type is in a bin dir."""
    from adapters.cni.config import ConfDir
    from adapters.cni.errors import CniNotReady

    conf_dir, bin_dirs = settings.cni.conf_dir, settings.cni.bin_dirs
    try:
        network = await asyncio.to_thread(ConfDir(conf_dir).current)
    except CniNotReady as exc:
        fix = f"write a .conflist into {conf_dir} (docs/operations.md shows a bridge network)"
        return [Finding("CNI config", False, f"{conf_dir}: {exc}", fix)]
    found = [Finding("CNI config", True, f"network {network.name!r} from {conf_dir}")]
    kinds = [str(p.get("type", "")) for p in network.plugins]
    kinds += ["loopback"]  # every pod's lo
    missing = [k for k in dict.fromkeys(kinds) if not _executable(k, bin_dirs)]
    if missing:
        found.append(
            Finding(
                "CNI plugins",
                False,
                f"{', '.join(missing)} not found in {bin_dirs}",
                "install containernetworking-plugins or set cni.bin_dirs",
            )
        )
    else:
        found.append(Finding("CNI plugins", True, f"{', '.join(dict.fromkeys(kinds))}"))
    return found


def _executable(kind: str, bin_dirs: list[str]) -> bool:
    return any(os.access(os.path.join(d, kind), os.X_OK) for d in bin_dirs)


async def cgroups(settings: Settings) -> list[Finding]:
    """The cgroup mode, and a driver this node can serve (kubelet's must be the same)."""
    return await asyncio.to_thread(_cgroups, settings)


def _cgroups(settings: Settings) -> list[Finding]:
    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    mode = "v2 (unified)" if v2 else "v1"
    driver = settings.cgroup_driver
    detail = f"cgroup {mode}, driver {driver} (kubelet needs --cgroup-driver={driver})"
    if driver == "systemd" and not os.path.isdir("/run/systemd/system"):
        fix = 'set cgroup_driver = "cgroupfs" here and in kubelet, or boot with systemd'
        return [Finding("cgroups", False, f"{detail}, but systemd is not the init", fix)]
    return [Finding("cgroups", True, detail)]


async def sandbox_image(settings: Settings) -> list[Finding]:
    """The pause image is in containerd's image store, or its registry resolves it."""
    from adapters.containerd import api
    from adapters.containerd.client import ContainerdClient
    from adapters.registry.client import RegistryClient
    from adapters.registry.hosts import HostsConfig
    from domain.errors import HexcriError, NotFound
    from domain.reference import parse

    name = "sandbox image"
    try:
        ref = parse(settings.sandbox_image)
    except (HexcriError, ValueError) as exc:
        return [Finding(name, False, str(exc), "set sandbox_image to a valid reference")]
    ctd = settings.containerd
    async with ContainerdClient(ctd.address, ctd.namespace, reconnect_timeout=1) as client:
        try:
            await asyncio.wait_for(
                client.images.Get(api.images.GetImageRequest(name=str(ref))), TIMEOUT
            )
            return [Finding(name, True, f"{ref} present")]
        except NotFound:
            pass
        except (HexcriError, TimeoutError):
            return [Finding(name, False, f"{ref}: cannot ask containerd", "start containerd")]
    registry = RegistryClient(HostsConfig(settings.registry.config_path))
    try:
        resolved = await asyncio.wait_for(registry.resolve(ref, None), TIMEOUT * 3)
    except Exception as exc:
        fix = (
            f"let the node reach {ref.domain} (or a mirror in "
            f"{settings.registry.config_path}/{ref.domain}/hosts.toml), or import the image "
            f"(ctr -n {ctd.namespace} images import pause.tar)"
        )
        return [Finding(name, False, f"{ref} absent and not pullable: {exc}", fix)]
    finally:
        await registry.close()
    return [Finding(name, True, f"{ref} pullable ({resolved.digest})")]


def _bindable(what: str, address: str) -> Finding:
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, int(port)))
    except (OSError, ValueError) as exc:
        fix = f"set {what} to a free host:port on this node (port 0 picks one)"
        return Finding(what, False, f"cannot bind {address}: {exc}", fix)
    return Finding(what, True, f"{address} can be bound")


async def addresses(settings: Settings) -> list[Finding]:
    """The streaming server's address (and the metrics endpoint's, when on) can be bound."""
    found = [_bindable("streaming_address", settings.streaming_address)]
    if settings.metrics_address:
        found.append(_bindable("metrics_address", settings.metrics_address))
    return found


CONTAINERD_CHECKS: tuple[Check, ...] = (containerd, runtime, cni, cgroups, sandbox_image)


async def run(settings: Settings) -> list[Finding]:
    """Every finding, in the order they print."""
    checks = CONTAINERD_CHECKS if settings.backend == "containerd" else ()
    found: list[Finding] = []
    for check in (*checks, addresses):
        try:
            found += await check(settings)
        except Exception as exc:  # a check that breaks is a finding, not the end of the report
            fix = "report it: hexcri check could not judge this requirement"
            found.append(Finding(check.__name__, False, f"{type(exc).__name__}: {exc}", fix))
    return found


def main(settings: Settings) -> int:
    """Print the findings; 1 when any failed."""
    found = asyncio.run(run(settings))
    for finding in found:
        print(finding.line())
    failed = sum(not f.ok for f in found)
    print(f"{len(found) - failed} ok, {failed} failed" if failed else f"all {len(found)} ok")
    return 1 if failed else 0
