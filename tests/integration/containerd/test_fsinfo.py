"""Where containerd's snapshotter keeps its data, as containerd says, and its measure: a
snapshotter containerd does not know, or a directory that is not there, is an error in the
log and in the answer, never a silent 0."""

from __future__ import annotations

import logging
import secrets

import pytest

from adapters.containerd import api
from adapters.containerd.client import ContainerdClient
from adapters.containerd.fsinfo import SnapshotterUsage
from adapters.containerd.introspection import SnapshotterRoot
from app.backends.containerd import check_image_filesystem
from domain.errors import Internal
from tests.support.containerd import Containerd

pytestmark = pytest.mark.containerd


async def test_the_root_is_what_containerd_reports(
    containerd: Containerd, containerd_client: ContainerdClient
) -> None:
    root = SnapshotterRoot(containerd_client, "overlayfs", fallback="/not/this")
    expected = containerd.root / "root" / "io.containerd.snapshotter.v1.overlayfs"
    assert await root.get() == str(expected)  # not the default /var/lib/containerd


async def test_an_unknown_snapshotter_falls_back_with_an_error(
    containerd_client: ContainerdClient, caplog: pytest.LogCaptureFixture
) -> None:
    root = SnapshotterRoot(containerd_client, "no-such-snapshotter", fallback="/guessed")
    with caplog.at_level(logging.ERROR):
        assert await root.get() == "/guessed"
    assert "no-such-snapshotter" in caplog.text and "/guessed" in caplog.text


async def test_a_directory_that_is_not_there_cannot_be_measured(
    containerd_client: ContainerdClient, caplog: pytest.LogCaptureFixture
) -> None:
    missing = SnapshotterRoot(containerd_client, "no-such-snapshotter", fallback="/no/such/dir")
    usage = SnapshotterUsage(containerd_client, missing)
    with pytest.raises(Internal, match="/no/such/dir"):
        await usage.measure()
    with caplog.at_level(logging.ERROR):
        await check_image_filesystem(usage)  # what `hexcri serve` does at start
    assert "cannot measure" in caplog.text and "/no/such/dir" in caplog.text


async def test_usage_sums_the_snapshots_of_the_namespace(
    containerd: Containerd, containerd_client: ContainerdClient
) -> None:
    client = containerd_client.with_namespace(f"hexcri-fs-{secrets.token_hex(4)}")
    usage = SnapshotterUsage(client, SnapshotterRoot(client, "overlayfs"))
    empty = await usage.measure()
    assert (empty.used_bytes, empty.inodes_used) == (0, 0)  # a namespace without snapshots
    key = f"fs-{secrets.token_hex(4)}"
    prepared = await client.snapshots.Prepare(
        api.snapshots.PrepareSnapshotRequest(snapshotter="overlayfs", key=key)
    )
    try:
        [mount] = prepared.mounts
        assert mount.type == "bind"  # no parent: the snapshot's directory itself
        with open(mount.source + "/data", "wb") as f:
            f.write(b"x" * 100_000)
        one = await usage.measure()
        assert one.used_bytes >= 100_000 and one.inodes_used >= 2  # the dir and the file
        assert one.mountpoint == str(
            containerd.root / "root" / "io.containerd.snapshotter.v1.overlayfs"
        )
    finally:
        await client.snapshots.Remove(
            api.snapshots.RemoveSnapshotRequest(snapshotter="overlayfs", key=key)
        )
        await client.close()
    gone = await usage.measure()
    assert (gone.used_bytes, gone.inodes_used) == (0, 0)
