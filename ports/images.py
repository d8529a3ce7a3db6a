"""Images: the node's image store and the puller that fills it."""

from __future__ import annotations

import builtins
from typing import Protocol

from domain.model import AuthConfig, FilesystemUsage, Image
from domain.reference import Reference


class ImageStore(Protocol):
    async def list(self) -> list[Image]: ...

    async def remove(self, image: Image) -> None:
        """Forget the image and every tag of it; its content becomes collectable."""
        ...

    async def fs_info(self) -> builtins.list[FilesystemUsage]: ...


class ImagePuller(Protocol):
    async def pull(self, reference: Reference, auth: AuthConfig | None) -> Image:
        """Fetch the image into the store and name it `reference`; returns its record."""
        ...
