"""`PodNetwork` on CNI: the conf dir's network, set up and torn down per pod sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

from prometheus_client import Counter, Histogram

from adapters.cni.cache import PENDING_DIR, CacheEntry, ResultCache
from adapters.cni.chain import Chain
from adapters.cni.config import ConfDir, NetworkConfigList, parse
from adapters.cni.errors import CniNotReady
from adapters.cni.result import pod_ips
from adapters.cni.runtimeconf import DEFAULT_IFNAME, RuntimeConf, capability_args, pod_args
from domain.model import Condition, NetworkResult
from ports.network import NetworkInfo, PodNetworkRequest

log = logging.getLogger(__name__)

DEFAULT_BIN_DIRS = ("/opt/cni/bin", "/usr/lib/cni")

OPERATION_SECONDS = Histogram(
    "hexcri_cni_operation_duration_seconds",
    "Time of a CNI ADD or DEL of a pod's network (the whole plugin chain)",
    ["operation"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
OPERATION_FAILURES = Counter(
    "hexcri_cni_operation_failures", "Failed CNI ADDs and DELs", ["operation"]
)
T = TypeVar("T")


async def _measured(operation: str, work: Awaitable[T]) -> T:
    started = time.monotonic()
    try:
        return await work
    except BaseException:
        OPERATION_FAILURES.labels(operation).inc()
        raise
    finally:
        OPERATION_SECONDS.labels(operation).observe(time.monotonic() - started)


# the loopback network every pod gets (hexcri brings `lo` up itself), as go-cni lists it
LOOPBACK = NetworkConfigList(
    name="cni-loopback", cni_version="0.3.1", plugins=({"type": "loopback"},)
)


def _network_info(network: NetworkConfigList, ifname: str) -> dict[str, Any]:
    """One network as go-cni's ConfigResult shows it."""
    return {
        "Config": {
            "Name": network.name,
            "CNIVersion": network.cni_version,
            "Plugins": [
                {"Network": dict(plugin), "Source": json.dumps(plugin)}
                for plugin in network.plugins
            ],
            "Source": network.raw.decode(errors="replace")
            or json.dumps(
                {
                    "cniVersion": network.cni_version,
                    "name": network.name,
                    "plugins": list(network.plugins),
                }
            ),
        },
        "IFName": ifname,
    }


class CniNetwork:
    """Implements PodNetwork with the plugins of the conf dir's first network config."""

    def __init__(
        self,
        conf_dir: str = "/etc/cni/net.d",
        bin_dirs: list[str] | tuple[str, ...] = DEFAULT_BIN_DIRS,
        cache_dir: str = "/var/lib/cni",
        plugin_timeout: float = 60.0,
        teardown_timeout: float | None = None,
        ifname: str = DEFAULT_IFNAME,
        instance: str = "",
    ) -> None:
        self.conf = ConfDir(conf_dir)
        self.chain = Chain(list(bin_dirs), plugin_timeout)
        self.cache = ResultCache(cache_dir)
        self.pending = ResultCache(cache_dir, PENDING_DIR)
        self.ifname = ifname
        self.instance = instance  # marks this hexcri's cache entries (`owned`)
        # DEL runs on its own clock: one plugin timeout per plugin unless told otherwise.
        self.teardown_timeout = teardown_timeout
        self.pod_cidr = ""
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._background: set[asyncio.Task[None]] = set()

    # --- PodNetwork ---------------------------------------------------------------------

    async def setup(self, request: PodNetworkRequest) -> NetworkResult:
        network = await asyncio.to_thread(self.conf.current)
        rt = RuntimeConf(
            container_id=request.sandbox_id,
            netns=request.netns_path,
            ifname=self.ifname,
            args=pod_args(request),
            capability_args=capability_args(request, self.pod_cidr),
        )
        async with self._lock(request.sandbox_id):
            intent = CacheEntry(
                container_id=rt.container_id,
                network_name=network.name,
                ifname=rt.ifname,
                config=network.raw,
                result={},
                netns=rt.netns,
                cni_args=rt.args,
                capability_args=rt.capability_args,
                instance=self.instance,
            )
            await asyncio.to_thread(self.pending.write, intent)
            partial: list[dict[str, Any]] = []
            try:
                result = await _measured("ADD", self.chain.add(network, rt, partial))
                entry = dataclasses.replace(intent, result=result)
                await asyncio.to_thread(self.cache.write, entry)
            except BaseException as e:
                log.warning("cni: ADD for %s failed, running DEL: %s", rt.container_id, e)
                prev = partial[-1] if partial else None
                await self._shielded(self._undo_add(network, rt, prev, intent))
                raise
            await self._shielded(self._forget_pending(intent))
        return NetworkResult(ips=pod_ips(result, self.ifname))

    async def teardown(self, request: PodNetworkRequest) -> None:
        """DEL from the cached result (or the current config when nothing was cached); runs to
        completion even when the caller gives up, under its own timeout."""
        await self._shielded(self._teardown(request))

    async def owned(self) -> list[str]:
        """Sandboxes of this instance with a cached result or an ADD that never finished (a
        crash during it)."""
        entries = await asyncio.to_thread(self.cache.entries)
        entries += await asyncio.to_thread(self.pending.entries)
        return sorted(
            {
                e.container_id
                for e in entries
                if e.owned and e.instance == self.instance and e.ifname == self.ifname
            }
        )

    def condition(self) -> Condition:
        try:
            self.conf.current()
        except CniNotReady as e:
            return Condition(
                type="NetworkReady",
                status=False,
                reason="NetworkPluginNotReady",
                message=f"Network plugin returns error: cni plugin not initialized: {e}",
            )
        return Condition(type="NetworkReady", status=True)

    def info(self) -> NetworkInfo:
        networks: list[dict[str, Any]] = [_network_info(LOOPBACK, "lo")]
        status = "OK"
        try:
            networks.append(_network_info(self.conf.current(), self.ifname))
        except CniNotReady as e:
            status = f"cni config load failed: {e}"
        return NetworkInfo(
            config={
                "PluginDirs": list(self.chain.bin_dirs),
                "PluginConfDir": self.conf.conf_dir,
                "PluginMaxConfNum": 1,
                "Prefix": self.ifname.rstrip("0123456789"),
                "Networks": networks,
            },
            last_load_status=status,
        )

    def update_pod_cidr(self, cidr: str) -> None:
        self.pod_cidr = cidr

    # --- beyond the port ----------------------------------------------------------------

    async def check(self, request: PodNetworkRequest) -> None:
        """CHECK the pod's network against its cached result."""
        found = await asyncio.to_thread(self.cache.find, request.sandbox_id, self.ifname)
        if not found:
            raise CniNotReady(f"no cached CNI result for sandbox {request.sandbox_id}")
        _, entry = found[0]
        network = parse(entry.config, f"cached config of {entry.network_name}")
        rt = RuntimeConf(
            container_id=entry.container_id,
            netns=request.netns_path or entry.netns,
            ifname=entry.ifname,
            args=entry.cni_args,
            capability_args=entry.capability_args,
        )
        await self.chain.check(network, rt, entry.result)

    # --- internals ----------------------------------------------------------------------

    async def _teardown(self, request: PodNetworkRequest) -> None:
        async with self._lock(request.sandbox_id):
            found = await asyncio.to_thread(self.cache.find, request.sandbox_id, self.ifname)
            # an ADD a crash interrupted: DEL with what it was given, without a prevResult
            found += await asyncio.to_thread(self.pending.find, request.sandbox_id, self.ifname)
            if not found:
                await self._delete_uncached(request)
                return
            done: set[str] = set()  # a result and its intent name the same network: one DEL
            for path, entry in found:
                if entry.network_name not in done:
                    network = parse(entry.config, f"cached config of {entry.network_name}")
                    rt = RuntimeConf(
                        container_id=entry.container_id,
                        netns=await _existing(request.netns_path or entry.netns),
                        ifname=entry.ifname,
                        args=entry.cni_args or pod_args(request),
                        capability_args=entry.capability_args,
                    )
                    await self._delete(network, rt, entry.result or None)
                    done.add(entry.network_name)
                await asyncio.to_thread(self.cache.delete, path)  # either dir's file

    async def _delete_uncached(self, request: PodNetworkRequest) -> None:
        """No cached result (ADD failed, or a crash came before the cache write): DEL with the
        current config so that IPAM still releases what a half-done ADD took."""
        try:
            network = await asyncio.to_thread(self.conf.current)
        except CniNotReady:
            return
        rt = RuntimeConf(
            container_id=request.sandbox_id,
            netns=await _existing(request.netns_path),
            ifname=self.ifname,
            args=pod_args(request),
            capability_args=capability_args(request, self.pod_cidr),
        )
        await self._delete(network, rt, None)

    async def _delete(
        self, network: NetworkConfigList, rt: RuntimeConf, prev: dict[str, Any] | None
    ) -> None:
        if self.teardown_timeout is None:
            await _measured("DEL", self.chain.delete(network, rt, prev))
        else:
            async with asyncio.timeout(self.teardown_timeout):
                await _measured("DEL", self.chain.delete(network, rt, prev))

    async def _forget_pending(self, intent: CacheEntry) -> None:
        path = self.pending.path(intent.network_name, intent.container_id, intent.ifname)
        await asyncio.to_thread(self.pending.delete, path)

    async def _undo_add(
        self,
        network: NetworkConfigList,
        rt: RuntimeConf,
        prev: dict[str, Any] | None,
        intent: CacheEntry,
    ) -> None:
        """DEL what a failed ADD made, then forget the ADD (a DEL that fails now, say for a
        missing plugin, would fail at every retry)."""
        try:
            await self._delete(network, rt, prev)
        except Exception:
            log.exception("cni: DEL after a failed ADD of %s failed", rt.container_id)
        await self._forget_pending(intent)

    async def _shielded(self, work: Any) -> None:
        """Run `work` as a task the caller's cancellation cannot stop."""
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        await asyncio.shield(task)

    @contextlib.asynccontextmanager
    async def _lock(self, sandbox_id: str) -> AsyncIterator[None]:
        """One ADD or DEL per sandbox at a time; the lock is dropped when nobody holds it."""
        lock, users = self._locks.get(sandbox_id, (asyncio.Lock(), 0))
        self._locks[sandbox_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[sandbox_id]
            if users == 1:
                del self._locks[sandbox_id]
            else:
                self._locks[sandbox_id] = (lock, users - 1)


async def _existing(netns: str) -> str:
    """The namespace path, or "" once it is gone (DEL then runs with an empty CNI_NETNS)."""
    exists = bool(netns) and await asyncio.to_thread(os.path.exists, netns)
    return netns if exists else ""
