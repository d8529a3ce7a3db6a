"""PullImage: one download per reference however many ask at once."""

from __future__ import annotations

import asyncio

from domain.errors import NotFound
from domain.model import AuthConfig, Image
from domain.services.context import Context
from domain.validation.images import check_pull
from domain.validation.text import quote


async def pull_image(ctx: Context, image: str, auth: AuthConfig | None = None) -> str:
    """Pull `image` into the store; returns its ID (the config digest)."""
    ref = check_pull(image, auth)
    key = str(ref)
    inflight = ctx.pulls.get(key)
    if inflight is not None:
        return await asyncio.shield(inflight)
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    ctx.pulls[key] = future
    try:
        pulled = await ctx.ports.puller.pull(ref, auth)
        image_id = ctx.images.put(pulled).id
        future.set_result(image_id)
        return image_id
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
        raise
    finally:
        del ctx.pulls[key]


async def ensure_image(ctx: Context, image: str) -> Image:
    """The image named `image`, pulled first when the node lacks it."""
    found = ctx.images.resolve(image)
    if found is not None:
        return found
    image_id = await pull_image(ctx, image)
    resolved = ctx.images.resolve(image_id)
    if resolved is None:
        raise NotFound(f"image {quote(image)} vanished right after its pull")
    return resolved
