"""In-memory stores per kind that answer every read without touching a port."""

from __future__ import annotations

import asyncio

from domain.errors import InvalidArgument, NotFound
from domain.ids import IdIndex
from domain.model import Container, Image, Sandbox
from domain.reference import is_image_id, normalise_image_id, parse


class SandboxStore:
    """Committed sandboxes by ID, with prefix lookup."""

    def __init__(self) -> None:
        self._items: dict[str, Sandbox] = {}
        self._index = IdIndex("sandbox")

    def add(self, sandbox: Sandbox) -> None:
        self._items[sandbox.id] = sandbox
        self._index.add(sandbox.id)

    def remove(self, sandbox_id: str) -> None:
        self._items.pop(sandbox_id, None)
        self._index.discard(sandbox_id)

    def get(self, id_or_prefix: str) -> Sandbox:
        return self._items[self._index.resolve(id_or_prefix)]

    def find(self, id_or_prefix: str) -> Sandbox | None:
        """Like get, but None where get would say NotFound."""
        try:
            return self.get(id_or_prefix)
        except NotFound:
            return None

    def all(self) -> list[Sandbox]:
        return list(self._items.values())


class ContainerStore:
    """Committed containers by ID, by sandbox, with their exit signals."""

    def __init__(self) -> None:
        self._items: dict[str, Container] = {}
        self._index = IdIndex("container")
        self._by_sandbox: dict[str, set[str]] = {}

    def add(self, container: Container) -> None:
        self._items[container.id] = container
        self._index.add(container.id)
        self._by_sandbox.setdefault(container.sandbox_id, set()).add(container.id)

    def remove(self, container_id: str) -> None:
        container = self._items.pop(container_id, None)
        self._index.discard(container_id)
        if container is not None:
            ids = self._by_sandbox.get(container.sandbox_id, set())
            ids.discard(container_id)
            if not ids:
                self._by_sandbox.pop(container.sandbox_id, None)

    def get(self, id_or_prefix: str) -> Container:
        return self._items[self._index.resolve(id_or_prefix)]

    def find(self, id_or_prefix: str) -> Container | None:
        try:
            return self.get(id_or_prefix)
        except NotFound:
            return None

    def lookup(self, container_id: str) -> Container | None:
        """Exact-ID lookup (for runtime events)."""
        return self._items.get(container_id)

    def all(self) -> list[Container]:
        return list(self._items.values())

    def of_sandbox(self, sandbox_id: str) -> list[Container]:
        return [self._items[i] for i in self._by_sandbox.get(sandbox_id, ())]


class ExitSignals:
    """One event per task (pause or app container), set when its exit is recorded."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def event(self, task_id: str) -> asyncio.Event:
        return self._events.setdefault(task_id, asyncio.Event())

    def set(self, task_id: str) -> None:
        self.event(task_id).set()

    def forget(self, task_id: str) -> None:
        event = self._events.pop(task_id, None)
        if event is not None:
            event.set()

    async def wait(self, task_id: str, timeout: float) -> bool:
        """Whether the task exited within `timeout` seconds."""
        try:
            await asyncio.wait_for(self.event(task_id).wait(), timeout)
        except TimeoutError:
            return False
        return True


class ImageIndex:
    """Images by ID, tag and digest reference; resolves every form kubelet may send."""

    def __init__(self) -> None:
        self._items: dict[str, Image] = {}
        self._index = IdIndex("image")
        self._refs: dict[str, str] = {}
        self._pinned: set[str] = set()

    def pin(self, ref: str) -> None:
        """Images tagged `ref` are pinned (kept by kubelet's image GC)."""
        self._pinned.add(ref)
        image_id = self._refs.get(ref)
        if image_id is not None:
            self._items[image_id].pinned = True

    def put(self, image: Image) -> Image:
        """Add an image or merge its names into the known one; a tag moves from any image
        that held it before."""
        old = self._items.get(image.id)
        if old is not None:
            image.repo_tags = tuple(dict.fromkeys((*old.repo_tags, *image.repo_tags)))
            image.repo_digests = tuple(dict.fromkeys((*old.repo_digests, *image.repo_digests)))
            image.pinned = image.pinned or old.pinned
        for ref in image.repo_tags:
            holder_id = self._refs.get(ref)
            if holder_id is not None and holder_id != image.id:
                self._drop_ref(holder_id, ref)
        image.pinned = image.pinned or any(t in self._pinned for t in image.repo_tags)
        self._items[image.id] = image
        self._index.add(image.id.removeprefix("sha256:"))
        for ref in (*image.repo_tags, *image.repo_digests):
            self._refs[ref] = image.id
        return image

    def _drop_ref(self, image_id: str, ref: str) -> None:
        holder = self._items[image_id]
        holder.repo_tags = tuple(t for t in holder.repo_tags if t != ref)
        self._refs.pop(ref, None)

    def remove(self, image_id: str) -> None:
        image = self._items.pop(image_id, None)
        if image is None:
            return
        self._index.discard(image_id.removeprefix("sha256:"))
        for ref in (*image.repo_tags, *image.repo_digests):
            if self._refs.get(ref) == image_id:
                self._refs.pop(ref, None)

    def resolve(self, text: str) -> Image | None:
        """The image `text` names (ID, ID prefix, tag, digest reference), or None."""
        if not text:
            return None
        if is_image_id(text):
            return self._items.get(normalise_image_id(text))
        image_id = self._refs.get(text)
        if image_id is None:
            try:
                image_id = self._refs.get(str(parse(text)))
            except InvalidArgument:
                image_id = None
        if image_id is None:
            prefix = text.removeprefix("sha256:")
            if prefix and all(c in "0123456789abcdef" for c in prefix):
                matches = self._index.matching(prefix)
                if len(matches) == 1:
                    image_id = f"sha256:{matches[0]}"
        return self._items.get(image_id) if image_id else None

    def all(self) -> list[Image]:
        return list(self._items.values())
