"""The whole real stack on one machine: a private containerd, a local registry holding busybox
and the pause image (reached through hosts.toml mirrors for docker.io and registry.k8s.io, as
on an air-gapped node), a CNI network, and `hexcri serve --backend containerd` on top.

    python -m tests.support.stack demo     # bring it up, play the example pod manifest, then
                                           # run one pod through the CRI socket, tear down
    python -m tests.support.stack bench    # hexcri beside containerd's own CRI, same images/CNI

The e2e tests use `running_stack()` (and its pytest fixture `stack`); `containerd_cri_beside()`
adds containerd with its own CRI plugin on the same node (the benchmark, tests/conformance).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.cni import CNI_BIN, IP_FORWARD, CniEnv
from tests.support.containerd import Containerd
from tests.support.daemon import start_daemon, stop_daemon
from tests.support.oci import busybox_image, pause_image
from tests.support.registry import Registry

SANDBOX_IMAGE = "registry.k8s.io/pause:3.9"
BUSYBOX = "docker.io/library/busybox:latest"
NAMESPACE = "k8s.io"


def _hosts_toml(upstream: str, mirror: str) -> str:
    return f'server = "{upstream}"\n\n[host."{mirror}"]\n  capabilities = ["pull", "resolve"]\n'


def cni_plugins(env: CniEnv, subnet: str, gateway: str) -> list[dict[str, object]]:
    return [
        {
            "type": "bridge",
            "bridge": env.bridge,
            "isGateway": True,
            "ipMasq": False,
            "hairpinMode": True,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": subnet, "gateway": gateway}]],
                "routes": [{"dst": "0.0.0.0/0"}],
                "dataDir": str(env.data_dir),
            },
        },
        {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
        {"type": "loopback"},
    ]


@dataclass
class Stack:
    """Every part of the stack, under one temp root."""

    root: Path
    containerd: Containerd
    registry: Registry
    cni: CniEnv
    hexcri: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    extra_bin_dirs: list[str] = field(default_factory=list)

    @property
    def socket(self) -> str:
        return str(self.root / "hexcri" / "hexcri.sock")

    @property
    def certs_dir(self) -> Path:
        return self.root / "certs.d"

    @property
    def cni_bin_dir(self) -> Path:
        """A bin dir searched after the system plugins, for plugins a test writes itself."""
        return self.root / "cni-bin"

    @property
    def hexcri_root(self) -> Path:
        return self.root / "hexcri" / "root"

    @property
    def hexcri_log(self) -> Path:
        return self.root / "hexcri" / "hexcri.log"

    @property
    def config_path(self) -> Path:
        return self.root / "hexcri" / "config.toml"

    def write_config(self) -> None:
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            f"""backend = "containerd"
socket = "{self.socket}"
sandbox_image = "{SANDBOX_IMAGE}"
root_dir = "{self.hexcri_root}"
state_dir = "{self.root / "hexcri" / "state"}"

[containerd]
address = "{self.containerd.address}"
namespace = "{NAMESPACE}"
root = "{self.containerd.root / "root"}"

[cni]
bin_dirs = {json.dumps([CNI_BIN, str(self.cni_bin_dir), *self.extra_bin_dirs])}
conf_dir = "{self.cni.conf_dir}"
cache_dir = "{self.cni.cache_dir}"
netns_dir = "{self.cni.netns_dir}"
plugin_timeout = 30.0

[registry]
config_path = "{self.certs_dir}"
"""
        )

    def start_hexcri(self) -> None:
        """Start `hexcri serve` and wait for its socket."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket)
        environ = {**os.environ, "HEXCRI_CONFIG": str(self.config_path), **self.env}
        self.hexcri = start_daemon(
            [sys.executable, "-m", "app.cli", "serve"],
            self.hexcri_log,
            lambda: os.path.exists(self.socket),
            "hexcri",
            timeout=60,
            env=environ,
        )

    def stop_hexcri(self, sig: int = signal.SIGTERM) -> None:
        """Stop hexcri with `sig` (SIGKILL for a crash) and wait for it."""
        stop_daemon(self.hexcri, sig, timeout=30)


@contextlib.contextmanager
def running_stack(
    start_hexcri: bool = True, extra_bin_dirs: list[str] | tuple[str, ...] = ()
) -> Iterator[Stack]:
    """Start everything; on exit stop hexcri, then remove every pod, mount, netns and dir, and
    put `net.ipv4.ip_forward` back as it was (the bridge plugin turns it on).

    hexcri searches CNI plugins in /usr/lib/cni, then `Stack.cni_bin_dir` (empty, for plugins
    a test writes), then `extra_bin_dirs`.
    """
    ip_forward = IP_FORWARD.read_text() if IP_FORWARD.exists() else None
    root = Path(tempfile.mkdtemp(prefix="hexcri-stack-"))
    containerd = Containerd(root / "containerd", namespace=NAMESPACE)
    (root / "containerd").mkdir()
    registry = Registry(root / "registry")
    (root / "registry").mkdir()
    cni = CniEnv(root=root / "cni", network_name="hexcri-stack", bridge="hexcri-st0")
    stack = Stack(
        root=root,
        containerd=containerd,
        registry=registry,
        cni=cni,
        extra_bin_dirs=list(extra_bin_dirs),
    )
    try:
        containerd.start()
        registry.start()
        registry.push(busybox_image(), "library/busybox", "latest")
        registry.push(pause_image(), "pause", "3.9")
        for upstream, domain in (
            ("https://registry-1.docker.io", "docker.io"),
            ("https://registry.k8s.io", "registry.k8s.io"),
        ):
            (stack.certs_dir / domain).mkdir(parents=True)
            (stack.certs_dir / domain / "hosts.toml").write_text(
                _hosts_toml(upstream, registry.url)
            )
        for d in (cni.conf_dir, cni.netns_dir, cni.cache_dir, cni.data_dir, stack.cni_bin_dir):
            d.mkdir(parents=True)
        cni.write_config(cni_plugins(cni, "10.88.78.0/24", "10.88.78.1"))
        stack.write_config()
        if start_hexcri:
            stack.start_hexcri()
        yield stack
    finally:
        stack.stop_hexcri()
        containerd.cleanup()
        asyncio.run(cni.cleanup())
        registry.stop()
        _unmount_all_under(root)  # what a failed test or a leaky run left (a pod's shm)
        shutil.rmtree(root, ignore_errors=True)
        remove_pod_cgroups()
        if ip_forward is not None and IP_FORWARD.read_text() != ip_forward:
            IP_FORWARD.write_text(ip_forward)


POD_CGROUP_PREFIX = "hexcri-e2e"


def remove_pod_cgroups(root: Path = Path("/sys/fs/cgroup")) -> None:
    """Remove the (empty) cgroup parents of the tests' pods, named `/hexcri-e2e*`, as kubelet,
    which owns pod cgroups, would."""
    for top in root.glob(f"*/{POD_CGROUP_PREFIX}*"):
        if not top.is_dir() or top.is_symlink():
            continue
        for d in sorted(top.rglob("*"), key=lambda p: len(str(p)), reverse=True):
            if d.is_dir():
                with contextlib.suppress(OSError):
                    d.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below `root`, deepest first."""
    prefix = str(root).rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True)


def _unmount_all_under(root: Path) -> None:
    for point in mounts_under(root):
        subprocess.run(["umount", "-l", point], capture_output=True)


@pytest.fixture
def stack() -> Iterator[Stack]:
    """The real stack with hexcri serving, for one test."""
    with running_stack() as s:
        try:
            yield s
        finally:  # shown by pytest when the test failed
            print(f"--- hexcri log ---\n{s.hexcri_log.read_text()[-6000:]}")


def containerd_cri_config(stack: Stack, conf_dir: Path) -> str:
    """The `[plugins]` section for a containerd whose own CRI plugin serves the same node."""
    return f"""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{SANDBOX_IMAGE}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{conf_dir}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{stack.certs_dir}"
"""


EXAMPLE_POD = Path(__file__).parents[2] / "examples" / "web-pod.yaml"


def _play_example(s: Stack) -> int:
    """`hexcri play` the repository's web-server pod (no daemon), fetch its page from the pod
    IP, show its logs, and take it down."""
    import re

    import httpx

    env = {
        **os.environ,
        "HEXCRI_CONFIG": str(s.config_path),
        "HEXCRI_MANIFEST_LOG_DIR": str(s.root / "pod-logs"),
    }
    hexcri = [sys.executable, "-m", "app.cli", "play"]
    example = str(
        EXAMPLE_POD.relative_to(Path.cwd())
        if EXAMPLE_POD.is_relative_to(Path.cwd())
        else EXAMPLE_POD
    )
    print(f"$ hexcri play {example}", flush=True)
    run = subprocess.run([*hexcri, example], env=env, capture_output=True, text=True)
    print(run.stdout + run.stderr, end="", flush=True)
    found = re.search(r"pod default/web Running IP (\S+)", run.stdout)
    if run.returncode != 0 or found is None:
        return run.returncode or 1
    url = f"http://{found.group(1)}:8080/"
    answer = httpx.get(url, timeout=10)
    print(f"$ GET {url}\n{answer.status_code} {answer.text}", end="", flush=True)
    print(f"$ hexcri play --logs {example}", flush=True)
    subprocess.call([*hexcri, "--logs", example], env=env)
    print(f"$ hexcri play --down {example}", flush=True)
    down = subprocess.call([*hexcri, "--down", example], env=env)
    return 0 if answer.status_code == 200 and "hello from hexcri" in answer.text else down or 1


def _demo(args: argparse.Namespace) -> int:
    """The README's `make up`: a web-server pod from a manifest (`hexcri play`), then one
    pod through `hexcri serve`'s CRI socket as kubelet drives it (`hexcri demo`)."""
    with running_stack(start_hexcri=False) as s:
        print(f"stack up under {s.root}: containerd, registry {s.registry.url}, CNI")
        played = _play_example(s)
        if played:
            return played
        print("\n$ hexcri serve   # the CRI server; then a pod through its socket", flush=True)
        s.start_hexcri()
        return subprocess.call(
            [sys.executable, "-m", "app.cli", "demo", "--socket", s.socket, *args.command]
        )


@dataclass
class ContainerdCri:
    """containerd with its own CRI plugin beside a stack's hexcri: same registry mirrors and
    sandbox image, its own CNI network (bridge `hexcri-ref0`, 10.88.79.0/24)."""

    containerd: Containerd
    cni: CniEnv

    @property
    def socket(self) -> str:
        """The CRI socket (containerd serves the CRI on its gRPC address)."""
        return self.containerd.address


@contextlib.contextmanager
def containerd_cri_beside(stack: Stack) -> Iterator[ContainerdCri]:
    """Start a second containerd, with its CRI plugin, on `stack`'s node; remove it after."""
    ref = CniEnv(root=stack.root / "cni-ref", network_name="hexcri-ref", bridge="hexcri-ref0")
    for d in (ref.conf_dir, ref.cache_dir, ref.data_dir):
        d.mkdir(parents=True)
    ref.write_config(cni_plugins(ref, "10.88.79.0/24", "10.88.79.1"))
    theirs = Containerd(
        stack.root / "containerd-cri",
        cri=True,
        extra=containerd_cri_config(stack, ref.conf_dir),
    )
    theirs.root.mkdir()
    try:
        theirs.start()
        yield ContainerdCri(containerd=theirs, cni=ref)
    finally:
        theirs.cleanup()
        asyncio.run(ref.cleanup())


def _bench(args: argparse.Namespace) -> int:
    """The pull benchmark, then the pod benchmark, each on hexcri and containerd's own CRI."""
    from tests.support.oci import large_image

    with running_stack() as s, containerd_cri_beside(s) as ref:
        theirs = ref.containerd
        large = large_image()
        s.registry.push(large, "library/large", "latest")
        layers = [layer["digest"] for layer in large.manifest["layers"]]
        pulled = subprocess.call(
            [
                sys.executable, "bench/pull_bench.py",
                "--image", "docker.io/library/large:latest",
                "--rounds", str(args.pull_rounds),
                "--size", f"{large.size / 1e6:.1f} MB in {len(layers)} layers",
                "--endpoint", f"hexcri={s.socket},{s.containerd.address}",
                "--endpoint", f"containerd-cri={theirs.address},{theirs.address}",
                *(arg for digest in layers for arg in ("--gone", digest)),
            ]
        )  # fmt: skip
        print()
        pods = subprocess.call(
            [
                sys.executable, "bench/cri_bench.py", "--pods", str(args.pods),
                "--socket", f"hexcri={s.socket}",
                "--socket", f"containerd-cri={theirs.address}",
                "--rss", f"hexcri={s.hexcri.pid if s.hexcri else 0}",
                "--rss", f"containerd-cri={theirs.pid}",
                "--density-pods", str(args.density_pods),
                "--node", f"hexcri={s.hexcri.pid if s.hexcri else 0},{s.containerd.pid}"
                          f"@{s.containerd.address}",
                "--node", f"containerd-cri={theirs.pid}@{theirs.address}",
            ]
        )  # fmt: skip
        return pulled or pods


def _restart(args: argparse.Namespace) -> int:
    """The time from `hexcri serve` starting to its first full answer, with `--pods` pods
    (one container each) recorded, after a `kill -9`; and Status with containerd down."""
    import time

    import grpc
    from cri_api.v1 import api_pb2 as cri
    from cri_api.v1 import api_pb2_grpc as cri_grpc

    async def make_pods(socket: str, pods: int) -> None:
        async with grpc.aio.insecure_channel(f"unix://{socket}") as channel:
            rt = cri_grpc.RuntimeServiceStub(channel)
            im = cri_grpc.ImageServiceStub(channel)
            await im.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=BUSYBOX)))
            limit = asyncio.Semaphore(8)

            async def one(i: int) -> None:
                async with limit:
                    config = cri.PodSandboxConfig(
                        metadata=cri.PodSandboxMetadata(name=f"r{i}", uid=f"r{i}", namespace="r"),
                        log_directory=f"/tmp/hexcri-restart-bench/{i}",
                        linux=cri.LinuxPodSandboxConfig(cgroup_parent=f"/hexcri-e2e-r{i}"),
                    )
                    sid = await rt.RunPodSandbox(cri.RunPodSandboxRequest(config=config))
                    made = await rt.CreateContainer(
                        cri.CreateContainerRequest(
                            pod_sandbox_id=sid.pod_sandbox_id,
                            sandbox_config=config,
                            config=cri.ContainerConfig(
                                metadata=cri.ContainerMetadata(name="c"),
                                image=cri.ImageSpec(image=BUSYBOX),
                                command=["sleep", "3600"],
                                log_path="c.log",
                            ),
                        )
                    )
                    await rt.StartContainer(
                        cri.StartContainerRequest(container_id=made.container_id)
                    )

            await asyncio.gather(*(one(i) for i in range(pods)))

    async def first_answer(socket: str, started: float, pods: int) -> tuple[float, float]:
        """Seconds to a ListPodSandbox holding every pod, and to a Status answer."""
        while True:
            try:
                async with grpc.aio.insecure_channel(f"unix://{socket}") as channel:
                    rt = cri_grpc.RuntimeServiceStub(channel)
                    got = await rt.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=5)
                    if len(got.items) == pods:
                        listed = time.monotonic() - started
                        await rt.Status(cri.StatusRequest(), timeout=5)
                        return listed, time.monotonic() - started
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.005)

    async def status_time(socket: str) -> tuple[float, bool]:
        async with grpc.aio.insecure_channel(f"unix://{socket}") as channel:
            rt = cri_grpc.RuntimeServiceStub(channel)
            began = time.monotonic()
            got = await rt.Status(cri.StatusRequest(), timeout=30)
            ready = {c.type: c.status for c in got.status.conditions}["RuntimeReady"]
            return time.monotonic() - began, ready

    with running_stack() as s:
        asyncio.run(make_pods(s.socket, args.pods))
        print(f"{args.pods} pods with one running container each")
        stopped = s.containerd.shim_pids()[: args.stopped_shims]
        if stopped:
            print(f"{len(stopped)} pod shims stopped (SIGSTOP) across each restart")
        for n in range(args.rounds):
            s.stop_hexcri(signal.SIGKILL)
            for pid in stopped:
                os.kill(pid, signal.SIGSTOP)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(s.socket)
            environ = {**os.environ, "HEXCRI_CONFIG": str(s.config_path)}
            started = time.monotonic()
            with open(s.hexcri_log, "ab") as out:
                s.hexcri = subprocess.Popen(
                    [sys.executable, "-m", "app.cli", "serve"],
                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=environ,
                )  # fmt: skip
            listed, status = asyncio.run(first_answer(s.socket, started, args.pods))
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
            print(
                f"restart {n + 1}: all {args.pods} pods listed {listed:.3f} s after the start, "
                f"Status answered at {status:.3f} s"
            )
        s.containerd.stop()
        took, ready = asyncio.run(status_time(s.socket))
        print(f"containerd down: Status answered in {took:.3f} s, RuntimeReady={ready}")
        s.containerd.start()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.stack")
    sub = parser.add_subparsers(dest="what", required=True)
    demo = sub.add_parser("demo", help="run one pod through hexcri on the real stack")
    demo.add_argument("command", nargs="*", default=[])
    bench = sub.add_parser("bench", help="hexcri beside containerd's CRI")
    bench.add_argument("--pods", type=int, default=50)
    bench.add_argument(
        "--density-pods", type=int, default=110, help="pods of 2 containers (0: no density run)"
    )
    bench.add_argument("--pull-rounds", type=int, default=5, help="timed pulls per endpoint")
    restart = sub.add_parser("restart", help="time to first answer after a kill -9")
    restart.add_argument("--pods", type=int, default=100)
    restart.add_argument("--rounds", type=int, default=3)
    restart.add_argument(
        "--stopped-shims", type=int, default=0, help="pod shims that do not answer (SIGSTOP)"
    )
    args = parser.parse_args()
    if args.what == "restart":
        return _restart(args)
    return _demo(args) if args.what == "demo" else _bench(args)


if __name__ == "__main__":
    sys.exit(main())
