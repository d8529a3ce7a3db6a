"""PullImage: one download per reference however many ask at once, stopped when every client
that asked for it has gone (cancelled, or past its deadline)."""

from __future__ import annotations

from domain.errors import HexcriError, NotFound
from domain.model import AuthConfig, Image
from domain.reference import parse
from domain.services.context import Context
from domain.validation.images import check_pull
from domain.validation.text import quote
from ports.images import PullProgress


async def pull_image(ctx: Context, image: str, auth: AuthConfig | None = None) -> str:
    """Pull `image` into the store; returns its ID (the config digest)."""
    ref = check_pull(image, auth)

    async def pull() -> str:
        pulled = await ctx.ports.puller.pull(ref, auth)
        return ctx.images.put(pulled).id

    return await ctx.pulls.run(str(ref), pull)


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


def pull_progress(ctx: Context, image: str) -> PullProgress | None:
    """How far the pull of `image` that runs now is (None when none runs)."""
    try:
        ref = parse(image)
    except HexcriError:
        return None
    return ctx.ports.puller.progress(ref)
