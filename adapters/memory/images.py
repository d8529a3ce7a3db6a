"""An image store and a registry in memory: pulls succeed for references the registry knows."""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import json

from domain.errors import NotFound
from domain.model import AuthConfig, FilesystemUsage, Image, ImageConfig
from domain.reference import Reference, parse
from ports.clock import Clock
from ports.images import PullProgress

DEFAULT_IMAGES: dict[str, ImageConfig] = {
    "registry.k8s.io/pause:3.9": ImageConfig(entrypoint=("/pause",)),
    "registry.k8s.io/pause:3.10": ImageConfig(entrypoint=("/pause",)),
    "docker.io/library/busybox:latest": ImageConfig(cmd=("sh",), env=("PATH=/bin",)),
    "docker.io/library/busybox:1.36": ImageConfig(cmd=("sh",), env=("PATH=/bin",)),
    "docker.io/library/nginx:latest": ImageConfig(
        entrypoint=("/docker-entrypoint.sh",),
        cmd=("nginx", "-g", "daemon off;"),
        stop_signal="SIGQUIT",
        exposed_ports=("80/tcp",),
    ),
}


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


SNAPSHOTS_DIR = "/var/lib/hexcri/memory/snapshots"  # the simulated snapshotter's


def generic_config(ref: Reference) -> ImageConfig:
    """The config of an image the simulator has no record of: a shell image named after its
    reference (a pause image's entrypoint for `*/pause`)."""
    name = ref.repository.rsplit("/", 1)[-1]
    return ImageConfig(
        entrypoint=("/pause",) if name == "pause" else (),
        cmd=() if name == "pause" else ("sh",),
        env=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",),
        labels={"org.opencontainers.image.ref.name": ref.tagged() or ref.repository},
    )


def simulated_config(reference: str) -> ImageConfig:
    """The config the simulator gives `reference`: a known image's, else a generic one."""
    ref = parse(reference)
    known = {str(parse(k)): c for k, c in DEFAULT_IMAGES.items()}
    return known.get(str(ref)) or generic_config(ref)


class MemoryRegistry:
    """Known references and the image each resolves to (config digest = content hash).

    A closed registry (the default, as the contract tests want) knows only what was added;
    an open one (the simulator's) also serves a generic image for any other reference.
    """

    def __init__(self, images: dict[str, ImageConfig] | None = None, open: bool = False) -> None:
        self._images: dict[str, ImageConfig] = {}
        self.open = open
        for ref, config in (DEFAULT_IMAGES if images is None else images).items():
            self.add(ref, config)

    def add(self, reference: str, config: ImageConfig) -> None:
        self._images[str(parse(reference))] = config

    def resolve(self, ref: Reference) -> tuple[ImageConfig, str, str]:
        """(config, config digest, manifest digest) for `ref`."""
        by_digest = {self._manifest_digest(k, c): c for k, c in self._images.items()}
        config = (
            by_digest.get(ref.digest)
            if ref.digest
            else self._images.get(f"{ref.repository}:{ref.tag}")
        )
        if config is None and self.open:
            config = generic_config(ref)
            blob = config.model_dump_json().encode()
            return config, _digest(blob), ref.digest or _digest(b"manifest:" + blob)
        if config is None:
            raise NotFound(f"image {ref} not found in the registry")
        blob = config.model_dump_json().encode()
        return config, _digest(blob), _digest(b"manifest:" + blob)

    @staticmethod
    def _manifest_digest(ref: str, config: ImageConfig) -> str:
        return _digest(b"manifest:" + config.model_dump_json().encode())


class MemoryImageStore:
    """Implements ImageStore and ImagePuller over a MemoryRegistry."""

    def __init__(self, registry: MemoryRegistry, clock: Clock) -> None:
        self._registry = registry
        self._clock = clock
        self.images: dict[str, Image] = {}
        self.pull_count = 0
        self._progress: dict[str, PullProgress] = {}

    async def pull(self, reference: Reference, auth: AuthConfig | None) -> Image:
        config, image_id, manifest_digest = self._registry.resolve(reference)
        self.pull_count += 1
        size = len(json.dumps(config.model_dump())) * 1024
        self._progress[str(reference)] = PullProgress(done=0, total=size)
        try:
            await asyncio.sleep(0)  # a download takes a while: concurrent callers overlap here
        finally:
            self._progress.pop(str(reference), None)
        known = self.images.get(image_id)
        tags = set(known.repo_tags) if known else set()
        digests = set(known.repo_digests) if known else set()
        if reference.tag:
            tags.add(reference.tagged())
            for other in self.images.values():  # a tag names one image at a time
                if other.id != image_id and reference.tagged() in other.repo_tags:
                    other.repo_tags = tuple(t for t in other.repo_tags if t != reference.tagged())
        digests.add(reference.digested(manifest_digest))
        image = Image(
            id=image_id,
            repo_tags=tuple(sorted(tags)),
            repo_digests=tuple(sorted(digests)),
            size=size,
            config=config,
            diff_ids=(image_id,),  # one layer (its chain ID is its diff ID)
        )
        self.images[image_id] = image
        # as a real pull: the record of what this pull named, not of every name the image has
        return image.model_copy(
            update={
                "repo_tags": (reference.tagged(),) if reference.tag else (),
                "repo_digests": (reference.digested(manifest_digest),),
            }
        )

    def progress(self, reference: Reference) -> PullProgress | None:
        return self._progress.get(str(reference))

    async def list(self) -> list[Image]:
        return [i.model_copy() for i in self.images.values()]

    async def remove(self, image: Image) -> None:
        self.images.pop(image.id, None)

    async def fs_info(self) -> builtins.list[FilesystemUsage]:
        return [
            FilesystemUsage(
                mountpoint=SNAPSHOTS_DIR,
                timestamp=self._clock.now_ns(),
                used_bytes=sum(i.size for i in self.images.values()),
                inodes_used=len(self.images) * 10,
            )
        ]
