"""Blobs streamed into containerd's content store: written whole in several messages,
verified by containerd, and nothing left behind when the source fails."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import pytest

from adapters.containerd import api
from adapters.containerd.client import ContainerdClient
from adapters.containerd.content import WRITE_CHUNK, ContentStore, Leases
from domain.errors import HexcriError

pytestmark = pytest.mark.containerd

CHUNK = 256 * 1024


class SourceBroke(Exception):
    pass


async def source(data: bytes, fail_after: int | None = None) -> AsyncIterator[bytes]:
    """`data` in CHUNK pieces, as a download yields it; raises after `fail_after` pieces."""
    for n, start in enumerate(range(0, len(data), CHUNK)):
        if n == fail_after:
            raise SourceBroke("the registry went away")
        yield data[start : start + CHUNK]


async def ingests(client: ContainerdClient) -> list[str]:
    statuses = await client.content.ListStatuses(api.content.ListStatusesRequest())
    return [s.ref for s in statuses.statuses]


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def test_a_blob_of_several_messages_is_written_whole(
    containerd_client: ContainerdClient,
) -> None:
    store = ContentStore(containerd_client)
    data = os.urandom(3 * WRITE_CHUNK + CHUNK + 7)
    digest = digest_of(data)
    async with Leases(containerd_client).held("test") as lease:  # else GC may take it
        try:
            assert await store.write(digest, len(data), source(data), {"a": "1"}, lease)
            assert await store.read(digest) == data
            # present: no error, the labels are set, the blob stays whole
            await store.write(digest, len(data), source(data), {"b": "2"}, lease)
            assert await store.read(digest) == data
            info = await store.info(digest)
            assert info is not None and dict(info.labels) == {"a": "1", "b": "2"}
            assert await ingests(containerd_client) == []
        finally:
            await store.delete(digest)


async def test_a_failing_source_aborts_the_ingest(containerd_client: ContainerdClient) -> None:
    store = ContentStore(containerd_client)
    data = os.urandom(6 * WRITE_CHUNK)
    digest = digest_of(data)
    with pytest.raises(SourceBroke):
        await store.write(digest, len(data), source(data, fail_after=10))
    assert not await store.exists(digest)
    assert await ingests(containerd_client) == []


async def test_a_source_with_other_bytes_is_refused(containerd_client: ContainerdClient) -> None:
    store = ContentStore(containerd_client)
    data = os.urandom(2 * WRITE_CHUNK)
    other = bytes([data[-1] ^ 0xFF])  # a last byte that surely differs
    digest = digest_of(data[:-1] + other)
    with pytest.raises(HexcriError):
        await store.write(digest, len(data), source(data))
    assert not await store.exists(digest)
    assert await ingests(containerd_client) == []


async def test_a_blob_held_by_a_lease_survives_the_garbage_collector(
    containerd_client: ContainerdClient,
) -> None:
    """What a pull finds present stays until it is used, even if nothing else refers to it."""
    store, leases = ContentStore(containerd_client), Leases(containerd_client)
    data = os.urandom(4096)
    digest = digest_of(data)
    writer = await leases.create("writer")
    await store.write(digest, len(data), source(data), lease=writer)
    user = await leases.create("user")
    assert await store.held(digest, user)
    await leases.delete(writer, sync=True)  # the writer's reference goes, a collection runs
    assert await store.read(digest) == data
    await leases.delete(user, sync=True)
    assert not await store.exists(digest)
