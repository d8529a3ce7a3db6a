"""ListImages, ImageStatus, ImageFsInfo: answered from the image index."""

from __future__ import annotations

from domain.filters import match_image
from domain.model import FilesystemUsage, Image
from domain.reference import is_image_id, normalise_image_id, parse
from domain.services.context import Context


def list_images(ctx: Context, image: str = "") -> list[Image]:
    ref = image
    if image and not is_image_id(image):
        ref = str(parse(image))
    elif image:
        ref = normalise_image_id(image)
    return [i for i in ctx.images.all() if match_image(ref, i)]


def image_status(ctx: Context, image: str) -> Image | None:
    """The image `image` names (reference, ID or unique ID prefix, as crictl sends), or None:
    ImageStatus answers an absent image with nothing."""
    if is_image_id(image):
        return ctx.images.resolve(image)
    return ctx.images.resolve(str(parse(image))) or ctx.images.resolve(image)


async def image_fs_info(ctx: Context) -> list[FilesystemUsage]:
    return await ctx.ports.images.fs_info()
