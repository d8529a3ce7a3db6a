"""The node's images as containerd holds them: image records, content and snapshots.

containerd keeps one image record per name (`repo:tag`, `repo@digest`), each pointing at a
manifest or index. `ContainerdImageStore` groups the records by config digest into the
domain's `Image` (ID = config digest, every tag and digest), removes them with synchronous
garbage collection, and reports the snapshotter's disk use.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from adapters.containerd import api
from adapters.containerd.client import ContainerdClient
from adapters.containerd.content import ContentStore
from adapters.containerd.fsinfo import SnapshotterUsage
from adapters.containerd.introspection import SnapshotterRoot
from domain.errors import HexcriError, NotFound
from domain.model import FilesystemUsage, Image, ImageConfig

log = logging.getLogger(__name__)

DEFAULT_SNAPSHOTTER = "overlayfs"
MANAGED_LABEL = "io.cri-containerd.image"
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


def image_config(doc: dict[str, Any]) -> ImageConfig:
    """The runtime part of an OCI image config document."""
    cfg = doc.get("config") or {}
    return ImageConfig(
        entrypoint=tuple(cfg.get("Entrypoint") or ()),
        cmd=tuple(cfg.get("Cmd") or ()),
        env=tuple(cfg.get("Env") or ()),
        working_dir=cfg.get("WorkingDir") or "",
        user=cfg.get("User") or "",
        stop_signal=cfg.get("StopSignal") or "",
        labels=dict(cfg.get("Labels") or {}),
        volumes=tuple(sorted(cfg.get("Volumes") or {})),
        exposed_ports=tuple(sorted(cfg.get("ExposedPorts") or {})),
    )


def repository_of(name: str) -> str:
    """`repo` of `repo:tag` / `repo@digest` (a port in the domain is not a tag)."""
    name = name.split("@", 1)[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    return name[:colon] if colon > slash else name


def _linux_amd64(platform: dict[str, Any]) -> int | None:
    """0 for linux/amd64 (variant none or v1), None otherwise."""
    if platform.get("os") != "linux" or platform.get("architecture") not in ("amd64", "x86_64"):
        return None
    return 0 if platform.get("variant", "") in ("", "v1") else None


@dataclass(frozen=True)
class Described:
    """What an image record's target resolves to in the content store."""

    config_digest: str
    size: int
    config: ImageConfig
    diff_ids: tuple[str, ...]
    content: tuple[str, ...]  # every digest the image needs (index, manifest, config, layers)


class ContainerdImageStore:
    """`ports.images.ImageStore` on containerd's image, content and snapshot services."""

    def __init__(
        self,
        client: ContainerdClient,
        snapshotter: str = DEFAULT_SNAPSHOTTER,
        usage: SnapshotterUsage | None = None,
    ) -> None:
        self.client = client
        self.content = ContentStore(client)
        self.snapshotter = snapshotter
        self.usage = usage or SnapshotterUsage(client, SnapshotterRoot(client, snapshotter))
        self._described: dict[str, Described] = {}  # by target digest: content is immutable

    # --- the port ---------------------------------------------------------------------------

    async def list(self) -> list[Image]:
        groups = await self._groups()
        return [image for image, _ in groups.values()]

    async def remove(self, image: Image) -> None:
        groups = await self._groups()
        for name in groups[image.id][1] if image.id in groups else ():
            await self._delete(name)

    async def fs_info(self) -> builtins.list[FilesystemUsage]:
        return [await self.usage.measure()]

    # --- beyond the port --------------------------------------------------------------------

    async def records(self) -> builtins.list[Any]:
        reply = await self.client.images.List(api.images.ListImagesRequest())
        return list(reply.images)

    async def describe(self, target_digest: str, media_type: str) -> Described:
        """Read the manifest (through the index) and config that `target_digest` names."""
        cached = self._described.get(target_digest)
        if cached is not None:
            return cached
        content = [target_digest]
        doc = json.loads(await self.content.read(target_digest))
        size = 0
        if media_type in INDEX_TYPES or "manifests" in doc:
            chosen = None
            for entry in doc.get("manifests") or ():
                if _linux_amd64(entry.get("platform") or {}) is not None and (
                    await self.content.exists(entry["digest"])
                ):
                    chosen = entry
                    break
            if chosen is None:
                raise NotFound(f"index {target_digest} has no linux/amd64 manifest in store")
            index_info = await self.content.info(target_digest)
            size += int(index_info.size) if index_info is not None else 0
            target_digest = chosen["digest"]
            content.append(target_digest)
            doc = json.loads(await self.content.read(target_digest))
        info = await self.content.info(target_digest)
        size += int(info.size) if info is not None else 0
        config_desc = doc["config"]
        config_doc = json.loads(await self.content.read(config_desc["digest"]))
        layers = doc.get("layers") or ()
        size += int(config_desc["size"]) + sum(int(layer["size"]) for layer in layers)
        content += [config_desc["digest"], *(layer["digest"] for layer in layers)]
        described = Described(
            config_digest=config_desc["digest"],
            size=size,
            config=image_config(config_doc),
            diff_ids=tuple(config_doc.get("rootfs", {}).get("diff_ids") or ()),
            content=tuple(content),
        )
        self._described[content[0]] = described
        return described

    async def _groups(self) -> dict[str, tuple[Image, builtins.list[str]]]:
        """Images by ID, each with the names of its containerd records."""
        groups: dict[str, tuple[Image, builtins.list[str]]] = {}
        for record in await self.records():
            try:
                described = await self.describe(record.target.digest, record.target.media_type)
            except (HexcriError, ValueError, KeyError) as err:
                log.warning("image %s: cannot read its content: %s", record.name, err)
                continue
            image, names = groups.setdefault(
                described.config_digest,
                (
                    Image(
                        id=described.config_digest,
                        size=described.size,
                        config=described.config,
                        diff_ids=described.diff_ids,
                    ),
                    [],
                ),
            )
            names.append(record.name)
            digest_ref = f"{repository_of(record.name)}@{record.target.digest}"
            tags = image.repo_tags if "@" in record.name else (*image.repo_tags, record.name)
            image.repo_tags = tuple(dict.fromkeys(tags))
            image.repo_digests = tuple(dict.fromkeys((*image.repo_digests, digest_ref)))
        return groups

    async def _delete(self, name: str) -> None:
        with contextlib.suppress(NotFound):
            await self.client.images.Delete(api.images.DeleteImageRequest(name=name, sync=True))


def names_for(repository: str, tag: str, digest: str) -> Iterable[str]:
    """The image record names a pull creates: `repo:tag` (if tagged) and `repo@digest`."""
    if tag:
        yield f"{repository}:{tag}"
    yield f"{repository}@{digest}"
