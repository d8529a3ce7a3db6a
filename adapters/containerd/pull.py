"""Pulling images into containerd: what containerd 1.6 leaves to its clients.

The registry port resolves the reference and streams verified blobs; this module writes them
into the content store under a lease (layers with bounded concurrency, blobs present
skipped), unpacks the layers into the snapshotter (`Prepare` → `Diff.Apply` → `Commit`,
keyed by chain ID, existing snapshots skipped) as soon as each layer and its parent are
ready, labels the blobs for containerd's garbage collector, and names the image with
`Images.Create`/`Update`. Concurrent pulls of one reference share one download, and
concurrent downloads of one blob share one stream; a pull, download or unpack nobody waits for
any more (its clients cancelled) is cancelled, which closes its streams and deletes its lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator

from google.protobuf import field_mask_pb2
from prometheus_client import Counter, Gauge, Histogram

from adapters.containerd import api
from adapters.containerd.client import ContainerdClient
from adapters.containerd.content import LEASE_HEADER, ContentStore, Leases, lease_resource
from adapters.containerd.images import (
    DEFAULT_SNAPSHOTTER,
    MANAGED_LABEL,
    image_config,
    names_for,
)
from domain.errors import AlreadyExists, Internal, InvalidArgument, NotFound, ResourceExhausted
from domain.model import AuthConfig, Image, chain_ids
from domain.reference import Reference
from domain.sharing import SharedWork
from ports.images import PullProgress
from ports.registry import BlobCorrupted, Descriptor, Registry, ResolvedImage

log = logging.getLogger(__name__)

GC_CONTENT = "containerd.io/gc.ref.content"
GC_SNAPSHOT = "containerd.io/gc.ref.snapshot"
UNCOMPRESSED = "containerd.io/uncompressed"
MAX_CONFIG_BYTES = 8 * 1024 * 1024

PULLS = Counter("hexcri_image_pulls", "Image pulls asked for, by result", ["result"])
PULLS_IN_FLIGHT = Gauge("hexcri_image_pulls_in_flight", "Image pulls being answered")
PULL_BYTES = Counter("hexcri_image_pull_bytes", "Bytes of blobs fetched from registries")
PULL_SECONDS = Histogram(
    "hexcri_image_pull_duration_seconds",
    "Time of an image pull, successful or not",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)


@dataclasses.dataclass
class _Counter:
    """Bytes of one pull's blobs: fetched or found so far, and in all."""

    done: int = 0
    total: int = 0


class ContainerdImagePuller:
    """`ports.images.ImagePuller` on containerd and a `ports.registry.Registry`."""

    def __init__(
        self,
        client: ContainerdClient,
        registry: Registry,
        snapshotter: str = DEFAULT_SNAPSHOTTER,
        max_concurrent_downloads: int = 3,
        lease_expiry: float = 3600.0,
    ) -> None:
        self.client = client
        self.registry = registry
        self.content = ContentStore(client)
        self.leases = Leases(client)
        self.snapshotter = snapshotter
        self.max_concurrent_downloads = max(1, max_concurrent_downloads)
        self.lease_expiry = lease_expiry
        self._pulls: SharedWork[Image] = SharedWork()
        self._blobs: SharedWork[None] = SharedWork()
        self._unpacks: SharedWork[None] = SharedWork()
        self._progress: dict[str, _Counter] = {}  # of the pulls running now, by reference

    def progress(self, reference: Reference) -> PullProgress | None:
        counter = self._progress.get(str(reference))
        if counter is None:
            return None
        return PullProgress(done=min(counter.done, counter.total), total=counter.total)

    async def pull(self, reference: Reference, auth: AuthConfig | None) -> Image:
        started, result = time.monotonic(), "failure"
        PULLS_IN_FLIGHT.inc()
        try:
            image = await self._pulls.run(str(reference), lambda: self._pull(reference, auth))
            result = "success"
            return image
        except ResourceExhausted as full:
            raise ResourceExhausted(f"pulling image {reference}: {full}") from full
        except asyncio.CancelledError:
            result = "cancelled"
            raise
        finally:
            PULLS_IN_FLIGHT.dec()
            PULLS.labels(result).inc()
            PULL_SECONDS.observe(time.monotonic() - started)

    # --- one pull ---------------------------------------------------------------------------

    async def _pull(self, reference: Reference, auth: AuthConfig | None) -> Image:
        counter = self._progress[str(reference)] = _Counter()
        try:
            return await self._pull_counted(reference, auth, counter)
        finally:
            if self._progress.get(str(reference)) is counter:
                del self._progress[str(reference)]

    async def _pull_counted(
        self, reference: Reference, auth: AuthConfig | None, counter: _Counter
    ) -> Image:
        resolved = await self.registry.resolve(reference, auth)
        counter.total = resolved.config.size + sum(layer.size for layer in resolved.layers)
        async with self.leases.held("pull", self.lease_expiry) as lease:
            config_bytes = await self._fetch_small(reference, resolved.config, auth, lease)
            counter.done += resolved.config.size
            try:
                config_doc = json.loads(config_bytes)
                diff_ids = list(config_doc["rootfs"]["diff_ids"])
            except (ValueError, KeyError, TypeError) as err:
                raise InvalidArgument(f"image {reference}: bad image config: {err}") from err
            if len(diff_ids) != len(resolved.layers):
                raise InvalidArgument(
                    f"image {reference}: {len(resolved.layers)} layers but "
                    f"{len(diff_ids)} diff IDs in its config"
                )
            chains = chain_ids(diff_ids)
            await self._layers(reference, resolved, diff_ids, chains, auth, lease, counter)
            await self._documents(resolved, config_bytes, chains, lease)
            repository = resolved.name
            for name in names_for(repository, reference.tag, resolved.digest):
                await self._name(name, resolved.top)
        return Image(
            id=resolved.config.digest,
            repo_tags=(f"{repository}:{reference.tag}",) if reference.tag else (),
            repo_digests=(f"{repository}@{resolved.digest}",),
            size=image_size(resolved),
            config=image_config(config_doc),
            diff_ids=tuple(diff_ids),
        )

    async def _layers(
        self,
        reference: Reference,
        resolved: ResolvedImage,
        diff_ids: list[str],
        chains: list[str],
        auth: AuthConfig | None,
        lease: str,
        counter: _Counter,
    ) -> None:
        """Download every layer (bounded) and unpack each once it and its parent are in."""
        limit = asyncio.Semaphore(self.max_concurrent_downloads)

        async def download(layer: Descriptor, diff_id: str) -> None:
            async with limit:
                labels = {UNCOMPRESSED: diff_id}
                await self._blob(reference, layer, auth, lease, labels, counter)

        async def present(layer: Descriptor, chain: str) -> bool:
            return await self._snapshot_held(chain, lease) and await self.content.held(
                layer.digest, lease
            )

        done = await asyncio.gather(*map(present, resolved.layers, chains))
        layers = zip(resolved.layers, done, strict=True)
        counter.done += sum(layer.size for layer, there in layers if there)
        downloads: list[asyncio.Task[None] | None] = [
            None if there else asyncio.create_task(download(layer, diff_id))
            for layer, diff_id, there in zip(resolved.layers, diff_ids, done, strict=True)
        ]
        try:
            parent = ""
            for n, layer in enumerate(resolved.layers):
                task = downloads[n]
                if task is not None:
                    await task
                unpack = functools.partial(
                    self._unpack, layer, diff_ids[n], chains[n], parent, lease
                )
                await self._unpacks.run(chains[n], unpack)
                parent = chains[n]
        finally:
            for pending in downloads:
                if pending is not None and not pending.done():
                    pending.cancel()
            await asyncio.gather(*(d for d in downloads if d is not None), return_exceptions=True)

    async def _blob(
        self,
        reference: Reference,
        desc: Descriptor,
        auth: AuthConfig | None,
        lease: str,
        labels: dict[str, str],
        counter: _Counter,
    ) -> None:
        """Ensure one blob is in the content store; one stream per digest at a time. The
        bytes count in `counter` as they arrive (at once when another pull fetched them)."""
        seen = 0

        async def counted(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
            nonlocal seen
            async for chunk in stream:
                seen += len(chunk)
                counter.done += len(chunk)
                yield chunk

        async def write() -> None:
            if await self.content.held(desc.digest, lease):
                await self.content.set_labels(desc.digest, labels)
                return
            stream = counted(self.registry.fetch(reference, desc, auth))
            await self.content.write(desc.digest, desc.size, stream, labels, lease)
            PULL_BYTES.inc(desc.size)

        await self._blobs.run(desc.digest, write)
        counter.done += max(0, desc.size - seen)

    async def _fetch_small(
        self, reference: Reference, desc: Descriptor, auth: AuthConfig | None, lease: str
    ) -> bytes:
        if desc.size > MAX_CONFIG_BYTES:
            raise InvalidArgument(f"image {reference}: config of {desc.size} bytes is too large")
        if await self.content.held(desc.digest, lease):
            return await self.content.read(desc.digest)
        out = bytearray()
        async for chunk in self.registry.fetch(reference, desc, auth):
            out += chunk
        PULL_BYTES.inc(len(out))
        return bytes(out)

    async def _documents(
        self, resolved: ResolvedImage, config_bytes: bytes, chains: list[str], lease: str
    ) -> None:
        """Write config, manifest and index, each labelled with what it references."""
        config_labels = {f"{GC_SNAPSHOT}.{self.snapshotter}": chains[-1]} if chains else {}
        await self._write_document(resolved.config.digest, config_bytes, config_labels, lease)
        manifest_labels = {f"{GC_CONTENT}.config": resolved.config.digest}
        for n, layer in enumerate(resolved.layers):
            manifest_labels[f"{GC_CONTENT}.l.{n}"] = layer.digest
        manifest_bytes = resolved.documents[resolved.manifest.digest]
        await self._write_document(resolved.manifest.digest, manifest_bytes, manifest_labels, lease)
        if resolved.index is not None:
            index_labels = {f"{GC_CONTENT}.m.0": resolved.manifest.digest}
            index_bytes = resolved.documents[resolved.index.digest]
            await self._write_document(resolved.index.digest, index_bytes, index_labels, lease)

    async def _write_document(
        self, digest: str, data: bytes, labels: dict[str, str], lease: str
    ) -> None:
        if await self.content.held(digest, lease):
            await self.content.set_labels(digest, labels)
        else:
            await self.content.write_bytes(digest, data, labels, lease)

    # --- unpacking --------------------------------------------------------------------------

    async def _snapshot_held(self, key: str, lease: str) -> bool:
        """Whether the snapshot is present, put in `lease` first (as `ContentStore.held`)."""
        await lease_resource(self.client, lease, f"snapshots/{self.snapshotter}", key)
        try:
            await self.client.snapshots.Stat(
                api.snapshots.StatSnapshotRequest(snapshotter=self.snapshotter, key=key)
            )
        except NotFound:
            return False
        return True

    async def _unpack(
        self, layer: Descriptor, diff_id: str, chain: str, parent: str, lease: str
    ) -> None:
        if await self._snapshot_held(chain, lease):
            return
        metadata = ((LEASE_HEADER, lease),)
        key = f"extract-{secrets.token_hex(6)}-{chain}"
        prepared = await self.client.snapshots.Prepare(
            api.snapshots.PrepareSnapshotRequest(
                snapshotter=self.snapshotter, key=key, parent=parent
            ),
            metadata=metadata,
        )
        try:
            applied = await self.client.diff.Apply(
                api.diff.ApplyRequest(
                    diff=api.descriptor.Descriptor(
                        media_type=layer.media_type, digest=layer.digest, size=layer.size
                    ),
                    mounts=list(prepared.mounts),
                ),
                metadata=metadata,
            )
            if applied.applied.digest != diff_id:
                raise BlobCorrupted(
                    f"layer {layer.digest} unpacked to {applied.applied.digest}, "
                    f"but the image config says {diff_id}"
                )
            await self.client.snapshots.Commit(
                api.snapshots.CommitSnapshotRequest(
                    snapshotter=self.snapshotter, name=chain, key=key
                ),
                metadata=metadata,
            )
        except AlreadyExists:
            log.debug("snapshot %s appeared while unpacking; keeping the existing one", chain)
            await self._remove_snapshot(key)
        except BaseException:
            await self._remove_snapshot(key)
            raise

    async def _remove_snapshot(self, key: str) -> None:
        with contextlib.suppress(NotFound, Internal):
            await self.client.snapshots.Remove(
                api.snapshots.RemoveSnapshotRequest(snapshotter=self.snapshotter, key=key)
            )

    # --- naming -----------------------------------------------------------------------------

    async def _name(self, name: str, target: Descriptor) -> None:
        record = api.images.Image(
            name=name,
            labels={MANAGED_LABEL: "managed"},
            target=api.descriptor.Descriptor(
                media_type=target.media_type, digest=target.digest, size=target.size
            ),
        )
        try:
            await self.client.images.Create(api.images.CreateImageRequest(image=record))
        except AlreadyExists:
            mask = field_mask_pb2.FieldMask(paths=["target", f"labels.{MANAGED_LABEL}"])
            await self.client.images.Update(
                api.images.UpdateImageRequest(image=record, update_mask=mask)
            )


def image_size(resolved: ResolvedImage) -> int:
    """What containerd's CRI reports: index (if any), manifest, config and layers."""
    size = resolved.manifest.size + resolved.config.size
    size += sum(layer.size for layer in resolved.layers)
    return size + (resolved.index.size if resolved.index is not None else 0)
