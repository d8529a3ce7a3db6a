"""RemoveImage: every name of the image goes; an unknown image is already removed."""

from __future__ import annotations

from domain.services.context import Context
from domain.services.image_query import image_status


async def remove_image(ctx: Context, image: str) -> None:
    """Like containerd's CRI, running containers keep their snapshots; the image record goes."""
    found = image_status(ctx, image)
    if found is None:
        return
    await ctx.ports.images.remove(found)
    ctx.images.remove(found.id)
