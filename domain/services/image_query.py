"""ListImages, ImageStatus, ImageFsInfo: answered from the image index."""

from __future__ import annotations

from dataclasses import dataclass

from domain.filters import match_image
from domain.model import FilesystemUsage, Image
from domain.reference import is_image_id, normalise_image_id, parse
from domain.store import ImageIndex
from ports.images import ImageStore


def find_image(images: ImageIndex, image: str) -> Image | None:
    """The image `image` names (reference, ID or unique ID prefix, as crictl sends), or
    None."""
    if is_image_id(image):
        return images.resolve(image)
    return images.resolve(str(parse(image))) or images.resolve(image)


@dataclass(frozen=True)
class ImageQuery:
    images: ImageIndex
    store: ImageStore

    def list_images(self, image: str = "") -> list[Image]:
        ref = image
        if image and not is_image_id(image):
            ref = str(parse(image))
        elif image:
            ref = normalise_image_id(image)
        return [i for i in self.images.all() if match_image(ref, i)]

    def image_status(self, image: str) -> Image | None:
        """As `find_image`: ImageStatus answers an absent image with nothing."""
        return find_image(self.images, image)

    def resolve(self, image: str) -> Image | None:
        """The image `image` names in any form the index knows (ID, prefix, tag, digest)."""
        return self.images.resolve(image)

    async def image_fs_info(self) -> list[FilesystemUsage]:
        return await self.store.fs_info()
