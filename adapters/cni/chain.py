"""Running a network config list as libcni does: ADD in order with `prevResult` chaining,
DEL in reverse order, CHECK in order, each plugin under the plugin timeout."""

from __future__ import annotations

import os
from typing import Any

from adapters.cni.config import NetworkConfigList
from adapters.cni.invoke import find_plugin, run_plugin
from adapters.cni.runtimeconf import RuntimeConf, plugin_config


def _version_at_least(version: str, minimum: str) -> bool:
    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split("."))

    return key(version) >= key(minimum)


class Chain:
    """Executes the plugins of a network config list from the bin dirs."""

    def __init__(self, bin_dirs: list[str], timeout: float) -> None:
        self.bin_dirs = list(bin_dirs)
        self.timeout = timeout

    @property
    def cni_path(self) -> str:
        return os.pathsep.join(self.bin_dirs)

    async def add(
        self,
        network: NetworkConfigList,
        rt: RuntimeConf,
        partial: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """The result of the last plugin; `partial` collects each result as it arrives, so a
        caller can DEL with the last good one when a later plugin fails."""
        result: dict[str, Any] | None = None
        for plugin in network.plugins:
            result = await self._run("ADD", network, plugin, rt, result) or result
            if result is not None and partial is not None:
                partial.append(result)
        return result or {"cniVersion": network.cni_version}

    async def delete(
        self, network: NetworkConfigList, rt: RuntimeConf, prev_result: dict[str, Any] | None
    ) -> None:
        """DEL every plugin, last first; 0.3.x plugins get no prevResult (libcni's rule).

        Unlike libcni, a failing plugin does not stop the others: every plugin gets its DEL
        (so IPAM still frees the address when, say, a meta plugin is missing), and the first
        error is raised at the end.
        """
        if not _version_at_least(network.cni_version, "0.4.0"):
            prev_result = None
        first: Exception | None = None
        for plugin in reversed(network.plugins):
            try:
                await self._run("DEL", network, plugin, rt, prev_result)
            except Exception as e:
                first = first or e
        if first is not None:
            raise first

    async def check(
        self, network: NetworkConfigList, rt: RuntimeConf, prev_result: dict[str, Any]
    ) -> None:
        """CHECK every plugin in order (0.4.0 and later, unless the list disables it)."""
        if network.disable_check or not _version_at_least(network.cni_version, "0.4.0"):
            return
        for plugin in network.plugins:
            await self._run("CHECK", network, plugin, rt, prev_result)

    async def _run(
        self,
        command: str,
        network: NetworkConfigList,
        plugin: dict[str, Any],
        rt: RuntimeConf,
        prev_result: dict[str, Any] | None,
    ) -> dict[str, Any] | None:
        kind = str(plugin["type"])
        path = find_plugin(kind, self.bin_dirs, command)
        conf = plugin_config(network, plugin, rt.capability_args, prev_result)
        return await run_plugin(
            path, kind, command, rt.env(command, self.cni_path), conf, self.timeout
        )
