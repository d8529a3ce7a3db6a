"""The backends: a dependency-injector container each, with a provider per adapter.

`app.container.Application` chooses one by `settings.backend` and imports only its module, so
that the memory backend never loads containerd's stubs and the containerd backend never loads
the memory fakes. Every backend container provides `ports` (the domain's outbound ports) and
`dialer` (how port-forward reaches a pod's localhost); what a backend opens (clients, channels,
files) or starts (checks) is a `providers.Resource`, opened by `init_resources` (or by its
first use) and closed by `shutdown_resources`.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import TypeVar

T = TypeVar("T")


async def opened(thing: T, close: str = "close") -> AsyncIterator[T]:
    """A resource: `thing` for the container's life, and its `close` method (sync or async)
    called at `shutdown_resources`."""
    yield thing
    done = getattr(thing, close)()
    if inspect.isawaitable(done):
        await done
