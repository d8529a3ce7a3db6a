"""What containerd says of itself: the directory its snapshotter keeps its data in."""

from __future__ import annotations

import logging

from adapters.containerd import api
from adapters.containerd.client import ContainerdClient
from domain.errors import HexcriError, Unavailable

log = logging.getLogger(__name__)

SNAPSHOTTER_PLUGIN = "io.containerd.snapshotter.v1"


class SnapshotterRoot:
    """The snapshotter's directory as containerd reports it: `Introspection.Plugins` lists
    the snapshotter plugin with its exports, `root` among them (as containerd's CRI reads
    it). Asked once; while containerd is down it is asked again next time. When containerd
    does not say, `fallback` is used and the error is logged."""

    def __init__(self, client: ContainerdClient, snapshotter: str, fallback: str = "") -> None:
        self._client = client
        self.snapshotter = snapshotter
        self._fallback = fallback
        self._root: str | None = None

    async def get(self) -> str:
        if self._root is None:
            self._root = await self._ask()
        return self._root

    async def _ask(self) -> str:
        wanted = f"type=={SNAPSHOTTER_PLUGIN},id=={self.snapshotter}"
        try:
            reply = await self._client.introspection.Plugins(
                api.introspection.PluginsRequest(filters=[wanted])
            )
        except Unavailable:
            raise
        except HexcriError as e:
            return self._fall_back(f"containerd's Introspection failed: {e}")
        for plugin in reply.plugins:
            root = plugin.exports.get("root", "")
            if root:
                return str(root)
            error = plugin.init_err.message if plugin.HasField("init_err") else ""
            return self._fall_back(f"the plugin exports no root {error}".rstrip())
        return self._fall_back("containerd has no such snapshotter plugin")

    def _fall_back(self, why: str) -> str:
        log.error(
            "cannot learn the directory of snapshotter %r from containerd (%s); using %r",
            self.snapshotter,
            why,
            self._fallback,
        )
        return self._fallback
