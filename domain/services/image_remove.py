"""RemoveImage: every name of the image goes; an unknown image is already removed."""

from __future__ import annotations

from dataclasses import dataclass

from domain.services.image_query import find_image
from domain.store import ImageIndex
from ports.images import ImageStore


@dataclass(frozen=True)
class ImageRemove:
    images: ImageIndex
    store: ImageStore

    async def remove_image(self, image: str) -> None:
        """Like containerd's CRI, running containers keep their snapshots; the image record
        goes."""
        found = find_image(self.images, image)
        if found is None:
            return
        await self.store.remove(found)
        self.images.remove(found.id)
