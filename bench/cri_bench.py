"""Benchmark any CRI endpoint the way kubelet loads it; prints one table of medians.

    python bench/cri_bench.py --socket NAME=PATH [--socket NAME=PATH ...] [--pods 100]

Each endpoint gets the same sequence: RunPodSandbox, CreateContainer+StartContainer,
ListPodSandbox/ListContainers with all pods present, a second container's calls one by one
(CreateContainer, StartContainer, ContainerStatus, StopContainer in each pod, then
RemoveContainer of each),
StopPodSandbox+RemovePodSandbox, and concurrent RunPodSandbox. With --density-pods N: N pods
of 2 containers each started 10 at a time, the List calls with all of them, and the node's
memory (the --node processes and their containerd's shims, summed RSS) while they run.
Pods use the image given by --image (pulled first).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import grpc
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

T = TypeVar("T")


@dataclass
class Timings:
    samples: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.samples.setdefault(name, []).append(seconds)

    def median_ms(self, name: str) -> float:
        return statistics.median(self.samples[name]) * 1000


async def timed(t: Timings, name: str, call: Callable[[], Awaitable[T]]) -> T:
    start = time.perf_counter()
    result = await call()
    t.add(name, time.perf_counter() - start)
    return result


def pod(i: int, run: str) -> cri.PodSandboxConfig:
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=f"bench-{i}", uid=f"{run}-{i}", namespace="bench"),
        hostname=f"bench-{i}",
        log_directory=f"/tmp/cri-bench/{run}/{i}",
        linux=cri.LinuxPodSandboxConfig(cgroup_parent=f"/cri-bench/{run}-{i}"),
    )


async def bench(socket: str, image: str, pods: int, command: list[str]) -> Timings:
    t = Timings()
    run = uuid.uuid4().hex[:8]
    async with grpc.aio.insecure_channel(f"unix://{socket}") as channel:
        rt = cri_grpc.RuntimeServiceStub(channel)
        im = cri_grpc.ImageServiceStub(channel)
        await im.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=image)))
        container = cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name="c"),
            image=cri.ImageSpec(image=image),
            command=command,
            log_path="c.log",
        )

        async def run_pod(config: cri.PodSandboxConfig) -> str:
            reply = await rt.RunPodSandbox(cri.RunPodSandboxRequest(config=config))
            return str(reply.pod_sandbox_id)

        async def create_start(sid: str, config: cri.PodSandboxConfig) -> None:
            request = cri.CreateContainerRequest(
                pod_sandbox_id=sid, config=container, sandbox_config=config
            )
            cid = (await rt.CreateContainer(request)).container_id
            await rt.StartContainer(cri.StartContainerRequest(container_id=cid))

        async def second_container(
            sid: str, config: cri.PodSandboxConfig, second: cri.ContainerConfig
        ) -> str:
            """A second container's life up to its stop, each call timed on its own."""
            request = cri.CreateContainerRequest(
                pod_sandbox_id=sid, config=second, sandbox_config=config
            )
            created = await timed(t, "CreateContainer", lambda: rt.CreateContainer(request))
            cid = str(created.container_id)
            await timed(
                t,
                "StartContainer",
                lambda: rt.StartContainer(cri.StartContainerRequest(container_id=cid)),
            )
            await timed(
                t,
                "ContainerStatus",
                lambda: rt.ContainerStatus(cri.ContainerStatusRequest(container_id=cid)),
            )
            await timed(
                t,
                "StopContainer (timeout 0)",
                lambda: rt.StopContainer(cri.StopContainerRequest(container_id=cid, timeout=0)),
            )
            return cid

        async def stop_remove(sid: str) -> None:
            await rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sid))
            await rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))

        configs = [pod(i, run) for i in range(pods)]
        ids = [await timed(t, "RunPodSandbox", lambda c=c: run_pod(c)) for c in configs]
        for sid, config in zip(ids, configs, strict=True):
            await timed(t, "CreateContainer+Start", lambda s=sid, c=config: create_start(s, c))
        for _ in range(20):
            await timed(
                t,
                f"ListPodSandbox ({pods} pods)",
                lambda: rt.ListPodSandbox(cri.ListPodSandboxRequest()),
            )
            await timed(
                t,
                f"ListContainers ({pods} pods)",
                lambda: rt.ListContainers(cri.ListContainersRequest()),
            )
        second = cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name="d"),
            image=cri.ImageSpec(image=image),
            command=command,
            log_path="d.log",
        )
        stopped = [
            await second_container(sid, config, second)
            for sid, config in zip(ids, configs, strict=True)
        ]
        for cid in stopped:  # one after the other, as kubelet's garbage collection does
            await timed(
                t,
                "RemoveContainer (stopped)",
                lambda c=cid: rt.RemoveContainer(cri.RemoveContainerRequest(container_id=c)),
            )
        for sid in ids:
            await timed(t, "StopPodSandbox+Remove", lambda s=sid: stop_remove(s))
        burst = [pod(pods + i, run) for i in range(10)]

        async def concurrent() -> None:
            started = await asyncio.gather(*(run_pod(c) for c in burst))
            await asyncio.gather(*(stop_remove(s) for s in started))

        await timed(t, "10 concurrent RunPodSandbox+Stop+Remove", concurrent)
    return t


async def density(
    socket: str, image: str, pods: int, command: list[str], node: Node | None
) -> tuple[Timings, float]:
    """`pods` pods of 2 containers each, started 10 at a time; the List calls with all of
    them; the node's memory (summed RSS) while they run. Everything is removed after."""
    t = Timings()
    run = uuid.uuid4().hex[:8]
    gate = asyncio.Semaphore(10)
    async with grpc.aio.insecure_channel(f"unix://{socket}") as channel:
        rt = cri_grpc.RuntimeServiceStub(channel)

        async def one(i: int) -> str:
            config = pod(i, run)
            async with gate:
                reply = await rt.RunPodSandbox(cri.RunPodSandboxRequest(config=config))
                sid = reply.pod_sandbox_id
                for name in ("a", "b"):
                    container = cri.ContainerConfig(
                        metadata=cri.ContainerMetadata(name=name),
                        image=cri.ImageSpec(image=image),
                        command=command,
                        log_path=f"{name}.log",
                    )
                    request = cri.CreateContainerRequest(
                        pod_sandbox_id=sid, config=container, sandbox_config=config
                    )
                    cid = (await rt.CreateContainer(request)).container_id
                    await rt.StartContainer(cri.StartContainerRequest(container_id=cid))
                return str(sid)

        started = time.perf_counter()
        ids = await asyncio.gather(*(one(i) for i in range(pods)))
        t.add(f"start {pods} pods x 2 containers, 10 at a time", time.perf_counter() - started)
        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "ListPodSandbox": lambda: rt.ListPodSandbox(cri.ListPodSandboxRequest()),
            "ListContainers": lambda: rt.ListContainers(cri.ListContainersRequest()),
            "ListContainerStats": lambda: rt.ListContainerStats(cri.ListContainerStatsRequest()),
        }
        for _ in range(10):
            for name, call in calls.items():
                await timed(t, f"{name} ({pods} pods, {2 * pods} containers)", call)
        memory = node.rss_mib() if node else 0.0

        async def remove(sid: str) -> None:
            async with gate:
                await rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sid))
                await rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))

        await asyncio.gather(*(remove(s) for s in ids))
    return t, memory


@dataclass
class Node:
    """The processes that run a node's pods: the daemons, and the shims of one containerd."""

    pids: list[int]
    containerd_address: str

    @classmethod
    def parse(cls, spec: str) -> Node:
        """`PID,PID,...@CONTAINERD_ADDRESS`"""
        pids, _, address = spec.partition("@")
        return cls([int(p) for p in pids.split(",") if p], address)

    def shims(self) -> list[int]:
        found = []
        needle = self.containerd_address.encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if b"containerd-shim" in cmdline and needle in cmdline:
                found.append(int(entry))
        return found

    def rss_mib(self) -> float:
        return sum(rss_mib(pid) for pid in [*self.pids, *self.shims()])


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of `pid` in MiB, from /proc (`field`: VmRSS, RssAnon, RssFile)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--socket", action="append", required=True, help="NAME=PATH")
    parser.add_argument("--image", default="docker.io/library/busybox:latest")
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--command", nargs="*", default=["sleep", "3600"])
    parser.add_argument("--rss", action="append", default=[], help="NAME=PID: report its RSS")
    parser.add_argument("--density-pods", type=int, default=0, help="pods of the density run")
    parser.add_argument(
        "--node",
        action="append",
        default=[],
        help="NAME=PID,PID,...@CONTAINERD_ADDRESS: the processes (and that containerd's shims)"
        " whose summed RSS is the node's memory in the density run",
    )
    args = parser.parse_args()
    nodes = {n: Node.parse(spec) for n, _, spec in (s.partition("=") for s in args.node)}
    results = {}
    dense: dict[str, tuple[Timings, float]] = {}
    for spec in args.socket:
        name, _, path = spec.partition("=")
        results[name] = asyncio.run(bench(path, args.image, args.pods, args.command))
        if args.density_pods:
            dense[name] = asyncio.run(
                density(path, args.image, args.density_pods, args.command, nodes.get(name))
            )
    for name, (timings, _) in dense.items():
        results[name].samples.update(timings.samples)
    names = list(results)
    first = results[names[0]]
    header = f"{'operation (median ms)':44}" + "".join(f"{n:>16}" for n in names)
    print(header + (f"{'ratio':>10}" if len(names) == 2 else ""))
    for op in first.samples:
        row = [results[n].median_ms(op) for n in names]
        ratio = f"{row[0] / row[1]:>10.2f}" if len(row) == 2 and row[1] else ""
        print(f"{op:44}" + "".join(f"{v:>16.2f}" for v in row) + ratio)
    if dense and nodes:
        label = f"node memory with {args.density_pods} pods (MiB)"
        values = [dense[n][1] if n in dense else 0.0 for n in names]
        ratio = f"{values[0] / values[1]:>10.2f}" if len(values) == 2 and values[1] else ""
        print(f"{label:44}" + "".join(f"{v:>16.1f}" for v in values) + ratio)
    rss = dict(spec.partition("=")[::2] for spec in args.rss)
    if rss:
        values = [rss_mib(int(rss[n])) if n in rss else 0.0 for n in names]
        label = "resident memory after the run (MiB)"
        print(f"{label:44}" + "".join(f"{v:>16.1f}" for v in values))
        for field, what in (("RssAnon", "anonymous (heap)"), ("RssFile", "files (code)")):
            values = [rss_mib(int(rss[n]), field) if n in rss else 0.0 for n in names]
            print(f"{'  of which ' + what:44}" + "".join(f"{v:>16.1f}" for v in values))


if __name__ == "__main__":
    main()
