"""containerd's content store and leases, as the image puller uses them.

Blobs are written through `Content.Write` as one stream per blob, committed with the expected
digest and size (containerd verifies both), with the blob's labels set on commit. Blobs that
are already present are skipped (their labels are updated). Work in flight, and what a pull
finds present and relies on, is protected from the garbage collector by a lease that expires on
its own if hexcri dies mid-pull.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from typing import Any

from google.protobuf import field_mask_pb2

from adapters.containerd import api
from adapters.containerd.client import ContainerdClient
from adapters.containerd.faults import crash_point
from adapters.containerd.wire import ignore_not_found, ts_ns
from domain.errors import AlreadyExists, HexcriError, Internal, NotFound

log = logging.getLogger(__name__)

LEASE_HEADER = "containerd-lease"
LEASE_EXPIRE = "containerd.io/gc.expire"
PREFIX = "hexcri-"  # of the leases and content ingests this adapter makes
WRITE_CHUNK = 1024 * 1024


class ContentStore:
    """Reads and writes blobs of one containerd namespace."""

    def __init__(self, client: ContainerdClient) -> None:
        self.client = client

    async def info(self, digest: str) -> Any | None:
        """The content's Info message, or None when it is absent."""
        try:
            reply = await self.client.content.Info(api.content.InfoRequest(digest=digest))
        except NotFound:
            return None
        return reply.info

    async def exists(self, digest: str) -> bool:
        return await self.info(digest) is not None

    async def held(self, digest: str, lease: str) -> bool:
        """Whether the blob is present, put in `lease` first: the garbage collector cannot
        take it between this answer and its use (GC and the lease update serialize)."""
        await lease_resource(self.client, lease, "content", digest)
        return await self.exists(digest)

    async def read(self, digest: str) -> bytes:
        """A whole (small) blob: manifests, indexes, configs."""
        out = bytearray()
        async for reply in self.client.content.Read(api.content.ReadContentRequest(digest=digest)):
            out += reply.data
        return bytes(out)

    async def set_labels(self, digest: str, labels: Mapping[str, str]) -> None:
        """Set (add or replace) `labels` on present content."""
        if not labels:
            return
        info = api.content.Info(digest=digest, labels=dict(labels))
        mask = field_mask_pb2.FieldMask(paths=[f"labels.{key}" for key in labels])
        await self.client.content.Update(api.content.UpdateRequest(info=info, update_mask=mask))

    async def delete(self, digest: str) -> None:
        with contextlib.suppress(NotFound):
            await self.client.content.Delete(api.content.DeleteContentRequest(digest=digest))

    async def write(
        self,
        digest: str,
        size: int,
        chunks: AsyncIterator[bytes],
        labels: Mapping[str, str] | None = None,
        lease: str = "",
    ) -> bool:
        """Stream `chunks` into the store as `digest`; False when it was already present.

        An error of the source (a corrupt or stalled download) aborts the ingest and is
        re-raised; nothing is committed.
        """
        ref = f"{PREFIX}{digest}-{secrets.token_hex(4)}"
        source_error: list[BaseException] = []

        async def requests() -> AsyncIterator[Any]:
            offset = 0
            pending: list[bytes] = []  # joined once per message: one copy of every byte
            held = 0
            try:
                async for chunk in chunks:
                    pending.append(chunk)
                    held += len(chunk)
                    if held >= WRITE_CHUNK:
                        yield _write(ref, offset, b"".join(pending), size, digest)
                        offset += held
                        pending.clear()
                        held = 0
            except Exception as err:  # handed to the caller below
                source_error.append(err)
                return
            yield api.content.WriteContentRequest(
                action=api.content.COMMIT,
                ref=ref,
                offset=offset,
                data=b"".join(pending),
                total=size,
                expected=digest,
                labels=dict(labels or {}),
            )

        metadata = ((LEASE_HEADER, lease),) if lease else ()
        committed = False
        try:
            async for reply in self.client.content.Write(requests(), metadata=metadata):
                if reply.action == api.content.WRITE:
                    crash_point("ingest-written")
                if reply.action == api.content.COMMIT:
                    committed = True
                    if reply.digest and reply.digest != digest:
                        raise Internal(f"containerd committed {reply.digest}, not {digest}")
        except asyncio.CancelledError:  # the pull was cancelled: drop what was written
            await asyncio.shield(self._abort(ref))
            raise
        except HexcriError as err:
            await self._abort(ref)
            if source_error:
                raise source_error[0] from None
            # present already: containerd answers AlreadyExists, or ends the stream while
            # data is still being sent (grpc then reports a failed send as Internal)
            if not isinstance(err, AlreadyExists) and not await self._present(digest):
                raise
            if labels:
                await self.set_labels(digest, labels)
            return False
        if source_error:
            await self._abort(ref)
            raise source_error[0]
        if not committed:
            await self._abort(ref)
            raise Internal(f"containerd did not commit {digest}")
        return True

    async def write_bytes(
        self, digest: str, data: bytes, labels: Mapping[str, str] | None = None, lease: str = ""
    ) -> bool:
        async def one() -> AsyncIterator[bytes]:
            yield data

        return await self.write(digest, len(data), one(), labels, lease)

    async def _present(self, digest: str) -> bool:
        """Whether the blob is there; False when that cannot be told either."""
        try:
            return await self.exists(digest)
        except HexcriError:
            return False

    async def _abort(self, ref: str) -> None:
        with contextlib.suppress(HexcriError):
            await self.client.content.Abort(api.content.AbortRequest(ref=ref))


def _write(ref: str, offset: int, data: bytes, total: int, expected: str) -> Any:
    return api.content.WriteContentRequest(
        action=api.content.WRITE, ref=ref, offset=offset, data=data, total=total, expected=expected
    )


async def lease_resource(client: ContainerdClient, lease: str, kind: str, name: str) -> None:
    """Put a resource (`content`, `snapshots/<snapshotter>`) in `lease`, present or not."""
    resource = api.leases.Resource(id=name, type=kind)
    await client.leases.AddResource(api.leases.AddResourceRequest(id=lease, resource=resource))


class Leases:
    """Leases that keep work in flight (a pull's content and snapshots, a container's
    snapshot until the container holds it) from the garbage collector; each expires on its
    own if hexcri dies before deleting it."""

    def __init__(self, client: ContainerdClient) -> None:
        self.client = client
        self._deleting: set[asyncio.Future[None]] = set()

    async def create(self, purpose: str, expire_after: float = 3600.0) -> str:
        expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=expire_after)
        lease_id = f"{PREFIX}{purpose}-{secrets.token_hex(8)}"
        labels = {LEASE_EXPIRE: expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
        await self.client.leases.Create(api.leases.CreateRequest(id=lease_id, labels=labels))
        return lease_id

    async def delete(self, lease_id: str, sync: bool = False) -> None:
        with contextlib.suppress(NotFound):
            await self.client.leases.Delete(api.leases.DeleteRequest(id=lease_id, sync=sync))

    def delete_soon(self, lease_id: str) -> None:
        """Delete the lease in the background (after the caller's answer); if containerd
        cannot be reached, the lease expires."""

        async def delete() -> None:
            with contextlib.suppress(Exception):
                await self.delete(lease_id)

        task = asyncio.ensure_future(delete())
        self._deleting.add(task)
        task.add_done_callback(self._deleting.discard)

    @contextlib.asynccontextmanager
    async def held(self, purpose: str, expire_after: float = 3600.0) -> AsyncIterator[str]:
        """A lease for the duration of the block, deleted at its end (also on error)."""
        lease_id = await self.create(purpose, expire_after)
        try:
            yield lease_id
        finally:  # also when the pull is cancelled (again, even, while this runs)
            await asyncio.shield(self.delete(lease_id))


async def release_interrupted(client: ContainerdClient, before_ns: int) -> None:
    """Abort the content ingests and delete the leases of calls a crash of hexcri cut (made
    before `before_ns`, the start of this process): nothing of a running call is touched."""
    statuses = await client.content.ListStatuses(api.content.ListStatusesRequest())
    for status in statuses.statuses:
        if status.ref.startswith(PREFIX) and ts_ns(status.started_at) < before_ns:
            log.info("aborting the interrupted ingest %s", status.ref)
            await ignore_not_found(client.content.Abort(api.content.AbortRequest(ref=status.ref)))
    leases = await client.leases.List(api.leases.ListRequest())
    for lease in leases.leases:
        if lease.id.startswith(PREFIX) and ts_ns(lease.created_at) < before_ns:
            log.info("deleting the lease %s of an interrupted call", lease.id)
            await ignore_not_found(
                client.leases.Delete(api.leases.DeleteRequest(id=lease.id, sync=True))
            )  # sync: the garbage collector takes its content at once
