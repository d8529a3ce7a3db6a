"""OCI and Docker schema 2 manifests and indexes: media types, parsing, digest checks."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from domain.errors import InvalidArgument
from ports.registry import BlobCorrupted, Descriptor, Platform

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEXES = (OCI_INDEX, DOCKER_LIST)
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST, "*/*;q=0.1"))
MAX_MANIFEST_BYTES = 4 * 1024 * 1024


def hasher(digest: str) -> Any:
    """A hashlib object for `digest`'s algorithm (sha256, sha384, sha512)."""
    algorithm, _, encoded = digest.partition(":")
    if algorithm not in ("sha256", "sha384", "sha512") or not encoded:
        raise InvalidArgument(f"unsupported digest {digest!r}")
    return hashlib.new(algorithm)


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def verify(data: bytes, expected: Descriptor | str, what: str) -> None:
    """Raise BlobCorrupted unless `data` matches the expected digest (and size)."""
    digest = expected if isinstance(expected, str) else expected.digest
    h = hasher(digest)
    h.update(data)
    actual = f"{digest.partition(':')[0]}:{h.hexdigest()}"
    if actual != digest:
        raise BlobCorrupted(f"{what}: content has digest {actual}, expected {digest}")
    if not isinstance(expected, str) and expected.size != len(data):
        raise BlobCorrupted(f"{what}: {len(data)} bytes, expected {expected.size}")


def media_type_of(content_type: str, body: dict[str, Any]) -> str:
    """The document's media type: its own field, else the response's Content-Type."""
    declared = body.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    header = content_type.split(";", 1)[0].strip()
    if header in MANIFESTS + INDEXES:
        return header
    if "manifests" in body:
        return OCI_INDEX
    if "config" in body and "layers" in body:
        return OCI_MANIFEST
    return header


def load(data: bytes, what: str) -> dict[str, Any]:
    try:
        body = json.loads(data)
    except ValueError as err:
        raise BlobCorrupted(f"{what}: not JSON: {err}") from err
    if not isinstance(body, dict):
        raise BlobCorrupted(f"{what}: not a JSON object")
    if body.get("schemaVersion") == 1:
        raise InvalidArgument(f"{what}: Docker schema 1 manifests are not supported")
    return body


def descriptor(raw: Any, what: str) -> Descriptor:
    try:
        platform = raw.get("platform")
        return Descriptor(
            media_type=raw.get("mediaType", ""),
            digest=raw["digest"],
            size=int(raw["size"]),
            urls=tuple(raw.get("urls") or ()),
            annotations=dict(raw.get("annotations") or {}),
            platform=Platform(
                os=platform.get("os", ""),
                architecture=platform.get("architecture", ""),
                variant=platform.get("variant", ""),
                os_version=platform.get("os.version", ""),
            )
            if isinstance(platform, dict)
            else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise BlobCorrupted(f"{what}: bad descriptor {raw!r}") from err


def index_entries(body: dict[str, Any], what: str) -> list[Descriptor]:
    return [descriptor(m, what) for m in body.get("manifests") or ()]


def manifest_parts(body: dict[str, Any], what: str) -> tuple[Descriptor, tuple[Descriptor, ...]]:
    """The config and layer descriptors of an image manifest."""
    if "config" not in body:
        raise BlobCorrupted(f"{what}: manifest without config")
    config = descriptor(body["config"], what)
    layers = tuple(descriptor(layer, what) for layer in body.get("layers") or ())
    return config, layers
