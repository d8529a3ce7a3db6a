"""PullImage: one download per reference however many ask at once, stopped when every client
that asked for it has gone (cancelled, or past its deadline)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import HexcriError, NotFound
from domain.model import AuthConfig, Image
from domain.reference import parse
from domain.sharing import SharedWork
from domain.store import ImageIndex
from domain.validation.images import check_pull
from domain.validation.text import quote
from ports.images import ImagePuller, PullProgress


@dataclass(frozen=True)
class ImagePull:
    """Pulls into the image store, recorded in the image index."""

    puller: ImagePuller
    images: ImageIndex
    # Pulls in flight by reference, so that concurrent pulls of one image share one
    # download; stopped once none of their clients waits any more.
    pulls: SharedWork[str]

    async def pull_image(self, image: str, auth: AuthConfig | None = None) -> str:
        """Pull `image` into the store; returns its ID (the config digest)."""
        ref = check_pull(image, auth)

        async def pull() -> str:
            pulled = await self.puller.pull(ref, auth)
            return self.images.put(pulled).id

        return await self.pulls.run(str(ref), pull)

    async def ensure_image(self, image: str) -> Image:
        """The image named `image`, pulled first when the node lacks it."""
        found = self.images.resolve(image)
        if found is not None:
            return found
        image_id = await self.pull_image(image)
        resolved = self.images.resolve(image_id)
        if resolved is None:
            raise NotFound(f"image {quote(image)} vanished right after its pull")
        return resolved

    def pull_progress(self, image: str) -> PullProgress | None:
        """How far the pull of `image` that runs now is (None when none runs)."""
        try:
            ref = parse(image)
        except HexcriError:
            return None
        return self.puller.progress(ref)
