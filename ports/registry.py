"""Registries: resolving a reference to an image's manifest and fetching its blobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from pydantic import Field

from domain.errors import Internal, InvalidArgument
from domain.model import AuthConfig, Frozen
from domain.reference import Reference

LINUX_AMD64 = ("linux", "amd64", "")


class RegistryAuthError(InvalidArgument):
    """The registry refused the credentials given (or asked for some and none were given)."""


class BlobCorrupted(Internal):
    """A manifest or blob did not match the digest or size it was fetched by."""


class Platform(Frozen):
    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""


class Descriptor(Frozen):
    """An OCI content descriptor."""

    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()
    platform: Platform | None = None
    annotations: dict[str, str] = Field(default_factory=dict)


class ResolvedImage(Frozen):
    """A reference resolved to the manifest of one platform.

    `digest` is the digest the reference resolved to (an index's, when it names an index):
    the one a RepoDigest records. `index` is set when the reference named an index, and
    `documents` holds the raw bytes of the index and the manifest, by digest, so that the
    caller can store them exactly as fetched.
    """

    name: str
    digest: str
    index: Descriptor | None = None
    manifest: Descriptor
    config: Descriptor
    layers: tuple[Descriptor, ...] = ()
    documents: dict[str, bytes] = Field(default_factory=dict)

    @property
    def top(self) -> Descriptor:
        """The descriptor the reference names: the index if any, else the manifest."""
        return self.index or self.manifest


class Registry(Protocol):
    async def resolve(self, reference: Reference, auth: AuthConfig | None) -> ResolvedImage:
        """Resolve `reference` (tag or digest) to the linux/amd64 manifest and its config.

        Raises NotFound (naming the reference) when the repository, tag or digest does not
        exist, RegistryAuthError when the credentials are refused, BlobCorrupted when a
        manifest does not match its digest, Unavailable/DeadlineExceeded when no host
        answers.
        """
        ...

    def fetch(
        self, reference: Reference, descriptor: Descriptor, auth: AuthConfig | None
    ) -> AsyncIterator[bytes]:
        """Stream the blob `descriptor` of `reference`'s repository.

        The stream is verified: it raises BlobCorrupted, after the last chunk and before
        ending, when the bytes do not match the descriptor's digest and size.
        """
        ...
