"""Hostile requests through hexcri's CRI socket on the real stack (issue 11): the table of
cases answers its codes and messages, runc's refusals of a config are FailedPrecondition, a
pod without a log directory writes no log, and generated requests (hypothesis) never make
hexcri fail, touch a file outside its directories and the requested ones, or leave anything
behind (containers, tasks, snapshots, leases, netns, IPs, cgroups, FIFOs, mounts)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import Cri
from tests.e2e.test_containerd_containers import connect, fifos_under, wait_state
from tests.support.hostile import (
    CASES,
    MESSAGE_LIMIT,
    Case,
    Target,
    hostile_container,
    hostile_pod,
    refusal,
)
from tests.support.polling import settles
from tests.support.stack import BUSYBOX, Stack, running_stack

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]

CGROUP = Path("/sys/fs/cgroup")
FAILED = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
WATCHED = (Path("/etc"), Path("/etc/cni"))  # names and mtimes
NAMED = (Path("/"), Path("/var/lib"), Path("/run"))  # names only: others touch them


@dataclass
class World:
    stack: Stack
    outside: Path  # a directory nothing may write to
    logs: Path  # the log directory of the pods the tests make
    mounts: Path  # where generated mounts' host paths go
    pod: cri.PodSandboxConfig
    sandbox: str
    created: str

    def target(self, c: Cri) -> Target:
        return Target(c.runtime, c.images, self.pod, self.sandbox, self.created, str(self.logs))


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with running_stack() as s:
        outside = s.root / "outside"
        outside.mkdir()
        (outside / "where.log").write_text("untouched\n")
        logs, mounts = s.root / "logs" / "pod", s.root / "mounts"
        logs.mkdir(parents=True)
        mounts.mkdir()
        pod = hostile_pod("base", str(logs))

        async def setup() -> tuple[str, str]:
            channel, c = connect(s)
            async with channel:
                await c.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=BUSYBOX)))
                run = await c.runtime.RunPodSandbox(cri.RunPodSandboxRequest(config=pod))
                config = hostile_container("base")
                config.command[:] = ["sleep", "3600"]
                created = await c.runtime.CreateContainer(
                    cri.CreateContainerRequest(
                        pod_sandbox_id=run.pod_sandbox_id, config=config, sandbox_config=pod
                    )
                )
                return run.pod_sandbox_id, created.container_id

        sandbox, created = asyncio.run(setup())
        try:
            yield World(s, outside, logs, mounts, pod, sandbox, created)
        finally:
            print(f"--- hexcri log ---\n{s.hexcri_log.read_text()[-6000:]}")


@pytest.fixture
async def c(world: World) -> AsyncIterator[Cri]:
    channel, client = connect(world.stack)
    async with channel:
        yield client


def _listing(path: Path) -> list[tuple[str, int]]:
    """Names and mtimes of a directory's entries (not followed)."""
    try:
        return sorted((e.name, e.stat(follow_symlinks=False).st_mtime_ns) for e in os.scandir(path))
    except OSError:
        return []


def _tree(path: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.lstat().st_mtime_ns, p.lstat().st_size) for p in [path, *path.rglob("*")]}


def _cgroups() -> dict[str, list[str]]:
    """Every cgroup two levels deep in each hierarchy, and every container cgroup (named by
    its ID) under the pods' parents `hexcri-e2e-*`; the parents themselves are kubelet's to
    remove, as with containerd, and are left out."""
    out: dict[str, list[str]] = {}
    for hierarchy in sorted(CGROUP.iterdir()):
        if not hierarchy.is_dir() or hierarchy.is_symlink():
            continue
        shallow = [*hierarchy.glob("*/"), *hierarchy.glob("*/*/")]
        pods = [d for top in hierarchy.glob("hexcri-e2e-*/") for d in top.rglob("*/")]
        out[hierarchy.name] = sorted(
            {
                str(d.relative_to(hierarchy))
                for d in [*shallow, *pods]
                if d.is_dir()
                and (
                    not d.relative_to(hierarchy).parts[0].startswith("hexcri-e2e-") or is_id(d.name)
                )
            }
        )
    return out


def is_id(name: str) -> bool:
    return len(name) == 64 and all(ch in "0123456789abcdef" for ch in name)


def _mounts() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return sorted(line.split()[4] for line in f)


def fingerprint(w: World) -> dict[str, Any]:
    """What a request must not change, or must put back on clean-up."""
    s = w.stack
    ctr = s.containerd.ctr
    hexcri_cwd = Path(f"/proc/{s.hexcri.pid}/cwd") if s.hexcri else Path("/")
    return {
        "containers": sorted(ctr("containers", "ls", "-q").split()),
        "tasks": sorted(ctr("tasks", "ls").split()),
        "snapshots": sorted(ctr("snapshots", "--snapshotter", "overlayfs", "ls").split()),
        "leases": sorted(ctr("leases", "ls", "-q").split()),
        "netns": sorted(os.listdir(s.cni.netns_dir)),
        "ips": sorted(s.cni.allocations()),
        "cgroups": _cgroups(),
        "fifos": sorted(fifos_under(s.root / "hexcri" / "state")),
        "mounts": _mounts(),
        "sandboxes": sorted(os.listdir(s.hexcri_root / "sandboxes")),
        "outside": _tree(w.outside),
        "watched": {str(p): _listing(p) for p in WATCHED},
        "named": {str(p): sorted(os.listdir(p)) for p in NAMED},
        "hexcri cwd": _listing(hexcri_cwd),
        "passwd": hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest(),
    }


def assert_same(before: dict[str, Any], after: dict[str, Any]) -> None:
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert not changed, changed


async def alive(c: Cri) -> None:
    assert (await c.runtime.Version(cri.VersionRequest())).runtime_name == "hexcri"


# --- the table ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_hostile_case(world: World, c: Cri, case: Case) -> None:
    before = fingerprint(world)
    code, message = await refusal(world.target(c), case)
    print(f"{case.id}: {code.name}: {message[:200]}")
    assert (code, case.fragment in message) == (case.code, True), message
    assert len(message) < MESSAGE_LIMIT
    await alive(c)
    settles(lambda: assert_same(before, fingerprint(world)))


# --- runc's refusals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"command": ["/no/such/command"]}, "command not found"),
        ({"command": ["nosuch"]}, "command not found"),
        ({"command": ["/etc/passwd"]}, "command not executable"),
        ({"working_dir": "/etc/passwd"}, "working_dir"),
    ],
    ids=["absolute", "in-path", "not-executable", "cwd-a-file"],
)
async def test_runc_refusals_are_failed_precondition(
    world: World, c: Cri, change: dict[str, Any], fragment: str
) -> None:
    before = fingerprint(world)
    config = hostile_container("refused")
    for field, value in change.items():
        if isinstance(value, list):
            getattr(config, field)[:] = value
        else:
            setattr(config, field, value)
    created = await c.runtime.CreateContainer(
        cri.CreateContainerRequest(
            pod_sandbox_id=world.sandbox, config=config, sandbox_config=world.pod
        )
    )
    cid = created.container_id
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await c.runtime.StartContainer(cri.StartContainerRequest(container_id=cid))
    message = caught.value.details() or ""
    print(f"{change}: {caught.value.code().name}: {message}")
    assert (caught.value.code(), fragment in message) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        True,
    ), message
    status = (await c.runtime.ContainerStatus(cri.ContainerStatusRequest(container_id=cid))).status
    assert (status.state, status.reason) == (cri.CONTAINER_EXITED, "StartError")
    await c.runtime.RemoveContainer(cri.RemoveContainerRequest(container_id=cid))
    settles(lambda: assert_same(before, fingerprint(world)))


# --- no log directory, no log -------------------------------------------------------------------


async def test_a_pod_without_log_directory_writes_no_log(world: World, c: Cri) -> None:
    before = fingerprint(world)
    pod = hostile_pod("nologs", "")
    sid = (await c.runtime.RunPodSandbox(cri.RunPodSandboxRequest(config=pod))).pod_sandbox_id
    config = hostile_container("talker")
    config.command[:] = ["sh", "-c", "echo hello; echo there >&2"]
    created = await c.runtime.CreateContainer(
        cri.CreateContainerRequest(pod_sandbox_id=sid, config=config, sandbox_config=pod)
    )
    await c.runtime.StartContainer(cri.StartContainerRequest(container_id=created.container_id))
    status = await wait_state(c, created.container_id, cri.CONTAINER_EXITED)
    assert (status.exit_code, status.log_path) == (0, "")
    await c.runtime.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sid))
    await c.runtime.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))
    assert_same(before, fingerprint(world))  # no talker.log in hexcri's working dir either


# --- generated requests ---------------------------------------------------------------------


def _paths(anchor: str) -> st.SearchStrategy[str]:
    parts = st.sampled_from(["..", ".", "", "x", "y.log", "\x00", "n" * 300, anchor])
    joined = st.lists(parts, max_size=5).map("/".join)
    return joined | joined.map(lambda p: "/" + p) | st.text(max_size=40)


INTS = st.sampled_from([0, -1, 1, 2, 1000, 100000, 2**31, 2**62, -(2**63), 2**63 - 1]) | (
    st.integers(-(2**63), 2**63 - 1)
)
CPUS = st.sampled_from(["", "0", "0-1", "1-0", "0-999", "garbage", "0,,1", "\n"]) | st.text(
    max_size=8
)
TEXT = st.text(max_size=30) | st.sampled_from(["a\x00b", "x" * 100_000, "a\nb", "ns;x=y", "'\""])
SYSCTLS = st.sampled_from(
    [
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.nosuch",
        "kernel.shmmax",
        "kernel.panic",
        "vm.swappiness",
        "kernel.hostname",
        "net/ipv4/ping_group_range",
        "../x",
        "fs.mqueue.msg_max",
    ]
) | st.text(max_size=20)


@st.composite
def resources(draw: st.DrawFn) -> cri.LinuxContainerResources:
    def wide(strategy: st.SearchStrategy[int]) -> int:
        value = draw(strategy)
        return max(-(2**63), min(value, 2**63 - 1))

    return cri.LinuxContainerResources(
        cpu_period=wide(INTS),
        cpu_quota=wide(INTS),
        cpu_shares=wide(INTS),
        memory_limit_in_bytes=wide(INTS | st.sampled_from([64 << 20])),
        memory_swap_limit_in_bytes=wide(INTS),
        oom_score_adj=wide(INTS | st.integers(-1000, 1000)),
        cpuset_cpus=draw(CPUS),
        cpuset_mems=draw(CPUS),
        unified=draw(st.dictionaries(TEXT, TEXT, max_size=1)),
    )


POD_FIELDS = [
    "none",
    "hostname",
    "namespace",
    "cgroup_parent",
    "sysctls",
    "dns",
    "network",
    "groups",
    "handler",
]
CONTAINER_FIELDS = [
    "none",
    "log_path",
    "working_dir",
    "command",
    "env",
    "mount",
    "resources",
    "capabilities",
    "user",
]


@st.composite
def pod_requests(draw: st.DrawFn, w: World) -> cri.RunPodSandboxRequest:
    """A valid pod request with (mostly) one hostile field."""
    pod = hostile_pod("fuzz", str(w.logs))
    pod.linux.cgroup_parent = "/hexcri-e2e-fuzz"
    hostile = set(draw(st.lists(st.sampled_from(POD_FIELDS), min_size=1, max_size=2)))
    if "hostname" in hostile:
        pod.hostname = draw(st.sampled_from(["", "a.b-c"]) | TEXT)
    if "namespace" in hostile:
        pod.metadata.namespace = draw(TEXT)
    if "cgroup_parent" in hostile:
        parent = draw(_paths("x"))
        pod.linux.cgroup_parent = f"/hexcri-e2e-fuzz/{parent}".rstrip("/")
    if "sysctls" in hostile:
        for name in draw(st.lists(SYSCTLS, min_size=1, max_size=2)):
            pod.linux.sysctls[name] = draw(st.sampled_from(["0", "1 2"]) | TEXT)
    if "dns" in hostile:
        pod.dns_config.servers.append(draw(st.sampled_from(["10.0.0.10", "1.1.1.1\nx"]) | TEXT))
        pod.dns_config.searches.append(draw(st.sampled_from(["svc.local"]) | TEXT))
        pod.dns_config.options.append(draw(st.sampled_from(["ndots:5"]) | TEXT))
    if "network" in hostile:
        pod.linux.security_context.namespace_options.network = cri.NODE
        pod.hostname = draw(st.sampled_from(["", "custom"]))
    if "groups" in hostile:
        pod.linux.security_context.supplemental_groups.extend(draw(st.lists(INTS, max_size=2)))
    handler = (
        draw(st.sampled_from(["", "runc", "kata", "../../../bin/sh"]))
        if "handler" in hostile
        else ""
    )
    return cri.RunPodSandboxRequest(config=pod, runtime_handler=handler)


@st.composite
def container_requests(draw: st.DrawFn, w: World) -> cri.ContainerConfig:
    """A valid container config with (mostly) one hostile field."""
    config = hostile_container("fuzz")
    hostile = set(draw(st.lists(st.sampled_from(CONTAINER_FIELDS), min_size=1, max_size=2)))
    if "log_path" in hostile:
        config.log_path = draw(
            st.sampled_from(
                ["sub/fuzz.log", str(w.outside / "where.log"), "../../outside/where.log"]
            )
            | _paths(str(w.outside))
        )
    if "working_dir" in hostile:
        config.working_dir = draw(st.sampled_from(["/", "/tmp", "/etc/passwd"]) | _paths("tmp"))
    if "command" in hostile:
        config.command[:] = draw(
            st.sampled_from([["nosuch"], ["/etc/passwd"], ["sh", "-c", "a\x00"]])
            | st.lists(TEXT, min_size=1, max_size=2)
        )
    if "env" in hostile:
        config.envs.append(cri.KeyValue(key=draw(TEXT), value=draw(TEXT)))
    if "mount" in hostile:
        host = draw(st.sampled_from([str(w.mounts / "a"), "", "relative", f"{w.mounts}/\x00"]))
        config.mounts.append(
            cri.Mount(
                container_path=draw(st.sampled_from(["/mnt", "mnt", "/m\x00"])),
                host_path=host,
                readonly=draw(st.booleans()),
                recursive_read_only=draw(st.booleans()),
            )
        )
    if "resources" in hostile:
        config.linux.resources.CopyFrom(draw(resources()))
    if "capabilities" in hostile:
        caps = draw(st.lists(st.sampled_from(["CHOWN", "CAP_NO_SUCH", "ALL"]) | TEXT, max_size=2))
        config.linux.security_context.capabilities.add_capabilities.extend(caps)
    if "user" in hostile:
        user = draw(INTS | st.sampled_from([0, 1234, 65534]))
        config.linux.security_context.run_as_user.value = max(-(2**63), min(user, 2**63 - 1))
    return config


async def _pod_example(w: World, c: Cri, request: cri.RunPodSandboxRequest) -> grpc.StatusCode:
    try:
        reply = await c.runtime.RunPodSandbox(request)
    except grpc.aio.AioRpcError as err:
        assert len(err.details() or "") < MESSAGE_LIMIT
        return err.code()
    sid = reply.pod_sandbox_id
    await c.runtime.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sid))
    await c.runtime.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))
    return grpc.StatusCode.OK


async def _container_example(w: World, c: Cri, config: cri.ContainerConfig) -> grpc.StatusCode:
    request = cri.CreateContainerRequest(
        pod_sandbox_id=w.sandbox, config=config, sandbox_config=w.pod
    )
    try:
        cid = (await c.runtime.CreateContainer(request)).container_id
    except grpc.aio.AioRpcError as err:
        assert len(err.details() or "") < MESSAGE_LIMIT
        return err.code()
    code = grpc.StatusCode.OK
    try:
        await c.runtime.StartContainer(cri.StartContainerRequest(container_id=cid))
        await wait_state(c, cid, cri.CONTAINER_EXITED)
    except grpc.aio.AioRpcError as err:
        code = err.code()
    await c.runtime.RemoveContainer(cri.RemoveContainerRequest(container_id=cid))
    return code


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_generated_hostile_requests(world: World, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["pod", "container", "case"]))
    if kind == "pod":
        request: Any = data.draw(pod_requests(world))
    elif kind == "container":
        request = data.draw(container_requests(world))
    else:
        request = data.draw(st.sampled_from(CASES))
    before = fingerprint(world)
    log_size = world.stack.hexcri_log.stat().st_size

    async def one() -> grpc.StatusCode:
        channel, c = connect(world.stack)
        async with channel:
            if kind == "pod":
                code = await _pod_example(world, c, request)
            elif kind == "container":
                code = await _container_example(world, c, request)
            else:
                code, _ = await refusal(world.target(c), request)
            await alive(c)
            return code

    code = asyncio.run(one())
    print(f"{kind}: {code.name}")
    assert code not in FAILED, code
    assert world.stack.hexcri_log.stat().st_size - log_size < 64 * 1024
    settles(lambda: assert_same(before, fingerprint(world)))
