"""Benchmark PullImage of one image through CRI endpoints; prints the medians and the ratio.

    python bench/pull_bench.py --image REF --rounds 5 \\
        --endpoint NAME=CRI_SOCKET,CONTAINERD_ADDRESS [--endpoint ...] [--gone DIGEST ...]

Rounds alternate between the endpoints. Before each timed pull the image is removed through
the CRI (RemoveImage) and the endpoint's containerd collects its garbage (a lease deleted with
`--sync`), so every pull fetches and unpacks every layer again; `--gone` digests (the image's
layers) are checked to be absent from the content store before the pull starts.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass, field

import grpc
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

CTR = "ctr"


@dataclass
class Endpoint:
    name: str
    socket: str
    containerd: str
    namespace: str = "k8s.io"
    samples: list[float] = field(default_factory=list)
    image_id: str = ""

    async def ctr(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            CTR, "-a", self.containerd, "-n", self.namespace, *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"ctr {' '.join(args)} ({self.name}): {err.decode().strip()}")
        return out.decode()

    async def collect_garbage(self) -> None:
        """Make containerd run its garbage collector now and wait for it."""
        lease = (await self.ctr("leases", "create")).split()[0]
        await self.ctr("leases", "delete", "--sync", lease)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1000


async def remove_and_collect(im: cri_grpc.ImageServiceStub, ep: Endpoint, image: str,
                             gone: list[str]) -> None:  # fmt: skip
    await im.RemoveImage(cri.RemoveImageRequest(image=cri.ImageSpec(image=image)))
    await ep.collect_garbage()
    present = set((await ep.ctr("content", "ls", "-q")).split())
    left = [d for d in gone if d in present]
    if left:
        raise RuntimeError(f"{ep.name}: {len(left)} layers still in the content store after GC")


async def one_round(ep: Endpoint, image: str, gone: list[str]) -> None:
    async with grpc.aio.insecure_channel(f"unix://{ep.socket}") as channel:
        im = cri_grpc.ImageServiceStub(channel)
        await remove_and_collect(im, ep, image, gone)
        start = time.perf_counter()
        reply = await im.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=image)))
        ep.samples.append(time.perf_counter() - start)
        ep.image_id = reply.image_ref


async def run(endpoints: list[Endpoint], image: str, rounds: int, gone: list[str]) -> None:
    for _ in range(rounds):
        for ep in endpoints:
            await one_round(ep, image, gone)
    for ep in endpoints:  # leave the nodes as they were
        async with grpc.aio.insecure_channel(f"unix://{ep.socket}") as channel:
            await remove_and_collect(cri_grpc.ImageServiceStub(channel), ep, image, gone)


def report(endpoints: list[Endpoint], image: str, rounds: int, size: str) -> None:
    ids = {ep.image_id for ep in endpoints}
    if len(ids) != 1:
        raise RuntimeError(f"the endpoints pulled different images: {ids}")
    print(f"PullImage {image}{size}, {rounds} rounds each, image removed + GC between rounds")
    header = f"{'operation (median ms)':44}" + "".join(f"{ep.name:>16}" for ep in endpoints)
    print(header + (f"{'ratio':>10}" if len(endpoints) == 2 else ""))
    row = [ep.median_ms for ep in endpoints]
    ratio = f"{row[0] / row[1]:>10.2f}" if len(row) == 2 and row[1] else ""
    print(f"{'PullImage (cold: every layer fetched)':44}" + "".join(f"{v:>16.1f}" for v in row)
          + ratio)  # fmt: skip
    for label, pick in (("fastest", min), ("slowest", max)):
        values = [pick(ep.samples) * 1000 for ep in endpoints]
        print(f"{'  ' + label:44}" + "".join(f"{v:>16.1f}" for v in values))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--endpoint", action="append", required=True,
                        help="NAME=CRI_SOCKET,CONTAINERD_ADDRESS")  # fmt: skip
    parser.add_argument("--image", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--namespace", default="k8s.io")
    parser.add_argument("--gone", action="append", default=[],
                        help="a layer digest that must be absent before each pull")  # fmt: skip
    parser.add_argument("--size", default="", help="a note on the image size for the header")
    args = parser.parse_args()
    endpoints = []
    for spec in args.endpoint:
        name, _, rest = spec.partition("=")
        socket, _, address = rest.partition(",")
        endpoints.append(Endpoint(name, socket, address, args.namespace))
    asyncio.run(run(endpoints, args.image, args.rounds, args.gone))
    report(endpoints, args.image, args.rounds, f" ({args.size})" if args.size else "")


if __name__ == "__main__":
    main()
