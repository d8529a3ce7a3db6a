"""Images: the node's image store and the puller that fills it."""

from __future__ import annotations

import builtins
from typing import Protocol

from domain.model import AuthConfig, FilesystemUsage, Frozen, Image
from domain.reference import Reference


class ImageStore(Protocol):
    async def list(self) -> list[Image]: ...

    async def remove(self, image: Image) -> None:
        """Forget the image and every tag of it; its content becomes collectable."""
        ...

    async def fs_info(self) -> builtins.list[FilesystemUsage]: ...


class PullProgress(Frozen):
    """How far a pull is: bytes of its blobs fetched (or found in the store) of all of them."""

    done: int = 0
    total: int = 0  # 0 until the image's manifest is read


class ImagePuller(Protocol):
    async def pull(self, reference: Reference, auth: AuthConfig | None) -> Image:
        """Fetch the image into the store and name it `reference`; returns its record."""
        ...

    def progress(self, reference: Reference) -> PullProgress | None:
        """How far the pull of `reference` that runs now is; None when none runs."""
        ...
