"""User names resolved from the image's /etc/passwd and /etc/group, read from the snapshot."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from pathlib import Path
from typing import Any

import pytest

from adapters.containerd import api
from adapters.containerd.client import ContainerdClient
from adapters.containerd.runtime import ContainerdRuntime
from adapters.containerd.users import read_rootfs as _read_rootfs
from domain.errors import InvalidArgument
from domain.model import Image, TaskStatus
from domain.stdio import ContainerStdio
from ports.runtime import CreateRequest
from tests.integration.containerd.test_runtime import wait_status
from tests.support.containerd import Containerd, minimal_spec

pytestmark = pytest.mark.containerd


def named_spec(containerd: Containerd, cid: str, args: list[str], user: str) -> dict[str, Any]:
    """A spec as `domain/spec` leaves it for a user name: uid 0 and the name to resolve."""
    spec: dict[str, Any] = minimal_spec(args, f"{containerd.cgroup_parent}/{cid}")
    spec["process"]["user"] = {"uid": 0, "gid": 0, "username": user}
    return spec


async def snapshot_names(client: ContainerdClient) -> list[str]:
    return [
        s.name
        async for reply in client.snapshots.List(
            api.snapshots.ListSnapshotsRequest(snapshotter="overlayfs")
        )
        for s in reply.info
    ]


async def test_user_name_is_resolved_from_the_image(
    containerd: Containerd,
    runtime: ContainerdRuntime,
    container_io: ContainerStdio,
    containerd_client: ContainerdClient,
    busybox_image: Image,
    tmp_path: Path,
) -> None:
    cid = secrets.token_hex(32)
    log = tmp_path / "id.log"
    stdio = await container_io.open(cid, str(log), False, False)
    try:
        await runtime.create(
            CreateRequest(
                id=cid,
                sandbox_id=cid,
                image=busybox_image,
                spec=named_spec(containerd, cid, ["sh", "-c", "id -u; id -g"], "nobody"),
                stdio=stdio,
            )
        )
        got = await containerd_client.containers.Get(api.containers.GetContainerRequest(id=cid))
        user = json.loads(got.container.spec.value)["process"]["user"]
        assert user == {"uid": 65534, "gid": 65534, "additionalGids": [65534]}  # no `username`
        await runtime.start(cid)
        await asyncio.wait_for(wait_status(runtime, cid, TaskStatus.STOPPED), 30)
        await container_io.close(cid)
        lines = [line.split(" ", 3)[3] for line in log.read_text().splitlines()]
        assert lines == ["65534", "65534"]
    finally:
        await runtime.delete(cid)
        await container_io.close(cid)


async def test_unknown_user_fails_create_and_leaves_nothing(
    containerd: Containerd,
    runtime: ContainerdRuntime,
    containerd_client: ContainerdClient,
    busybox_image: Image,
) -> None:
    cid = secrets.token_hex(32)
    request = CreateRequest(
        id=cid,
        sandbox_id=cid,
        image=busybox_image,
        spec=named_spec(containerd, cid, ["true"], "nosuchuser"),
    )
    with pytest.raises(InvalidArgument, match="nosuchuser"):
        await runtime.create(request)
    containers = await containerd_client.containers.List(api.containers.ListContainersRequest())
    assert cid not in [c.id for c in containers.containers]
    assert cid not in await snapshot_names(containerd_client)
    leases = await containerd_client.leases.List(api.leases.ListRequest())
    assert not [lease.id for lease in leases.leases if cid in lease.id]


def test_rootfs_reads_follow_overlay_rules(tmp_path: Path) -> None:
    """Topmost layer wins; whiteouts, opaque directories and symlinks are honoured."""
    top, middle, bottom = (tmp_path / n for n in ("top", "middle", "bottom"))
    for layer in (top, middle, bottom):
        (layer / "etc").mkdir(parents=True)
    (bottom / "etc" / "passwd").write_text("bottom\n")
    (bottom / "etc" / "group").write_text("bottom group\n")
    (bottom / "etc" / "shadow").write_text("bottom shadow\n")
    (bottom / "real").mkdir()
    (bottom / "real" / "hosts").write_text("real hosts\n")
    (middle / "etc" / "passwd").write_text("middle\n")
    os.mknod(middle / "etc" / "group", 0o600 | 0o020000, os.makedev(0, 0))  # a whiteout
    (top / "etc" / "hosts").symlink_to("../real/hosts")
    layers = [str(top), str(middle), str(bottom)]
    assert _read_rootfs(layers, "/etc/passwd") == "middle\n"
    assert _read_rootfs(layers, "/etc/group") is None
    assert _read_rootfs(layers, "/etc/shadow") == "bottom shadow\n"
    assert _read_rootfs(layers, "/etc/hosts") == "real hosts\n"
    assert _read_rootfs(layers, "/etc/missing") is None
    os.setxattr(middle / "etc", "trusted.overlay.opaque", b"y")
    assert _read_rootfs(layers, "/etc/shadow") is None
    assert _read_rootfs(layers, "/etc/passwd") == "middle\n"
