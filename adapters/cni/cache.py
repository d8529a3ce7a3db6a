"""The ADD results on disk, in libcni's layout, so that DEL after a restart has them.

`<cache dir>/results/<network name>-<container id>-<ifname>` holds a `cniCacheV1` JSON
document (the config bytes base64-encoded, as Go marshals `[]byte`). libcni, containerd
and `cnitool` read the same files. hexcri adds one field libcni ignores, `hexcri`, so that
recovery tears down only what hexcri itself set up when other runtimes share the cache dir.

An ADD in flight is recorded first, in the same format under `<cache dir>/hexcri-adds/` (an
empty result; libcni never reads that dir): when hexcri is killed during ADD, the restarted
one finds the sandbox there and DELs it with the exact config and args the ADD was given, even
if the conf dir changed or lost its config in between.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

KIND = "cniCacheV1"
OWNER_FIELD = "hexcri"
INSTANCE_FIELD = "hexcriInstance"  # which hexcri, where several share the cache dir


@dataclass(frozen=True)
class CacheEntry:
    container_id: str
    network_name: str
    ifname: str
    config: bytes
    result: dict[str, Any]
    netns: str = ""
    cni_args: tuple[tuple[str, str], ...] = ()
    capability_args: dict[str, Any] = field(default_factory=dict)
    owned: bool = True
    instance: str = ""

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "kind": KIND,
            "containerId": self.container_id,
            "config": base64.b64encode(self.config).decode(),
            "ifName": self.ifname,
            "networkName": self.network_name,
            "netns": self.netns,
            "cniArgs": [list(kv) for kv in self.cni_args],
            "capabilityArgs": self.capability_args,
            "result": self.result,
        }
        if self.owned:
            doc[OWNER_FIELD] = True
            if self.instance:
                doc[INSTANCE_FIELD] = self.instance
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> CacheEntry:
        if doc.get("kind") != KIND:
            raise ValueError(f"not a {KIND} document")
        args = doc.get("cniArgs") or []
        return cls(
            container_id=str(doc["containerId"]),
            network_name=str(doc["networkName"]),
            ifname=str(doc["ifName"]),
            config=base64.b64decode(doc.get("config") or ""),
            result=doc.get("result") or {},
            netns=str(doc.get("netns") or ""),
            cni_args=tuple((str(k), str(v)) for k, v in args),
            capability_args=doc.get("capabilityArgs") or {},
            owned=doc.get(OWNER_FIELD) is True,
            instance=str(doc.get(INSTANCE_FIELD) or ""),
        )


RESULTS_DIR = "results"
PENDING_DIR = "hexcri-adds"


class ResultCache:
    """Reads and writes cached results; blocking file I/O, callers run it in a thread.

    `ResultCache(cache_dir)` is libcni's results dir; `ResultCache(cache_dir, PENDING_DIR)`
    holds the ADDs in flight.
    """

    def __init__(self, cache_dir: str, subdir: str = RESULTS_DIR) -> None:
        self.dir = os.path.join(cache_dir, subdir)

    def path(self, network_name: str, container_id: str, ifname: str) -> str:
        return os.path.join(self.dir, f"{network_name}-{container_id}-{ifname}")

    def write(self, entry: CacheEntry) -> None:
        """Atomically: a crash leaves the old file or the new one, never half of one."""
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        path = self.path(entry.network_name, entry.container_id, entry.ifname)
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(entry.to_json(), f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise

    def find(self, container_id: str, ifname: str) -> list[tuple[str, CacheEntry]]:
        """Every readable entry of this container and interface, whatever its network."""
        suffix = f"-{container_id}-{ifname}"
        found = []
        for name in self._names():
            if name.endswith(suffix):
                entry = self._read(name)
                if entry and entry.container_id == container_id and entry.ifname == ifname:
                    found.append((os.path.join(self.dir, name), entry))
        return found

    def entries(self) -> list[CacheEntry]:
        return [e for e in (self._read(n) for n in self._names()) if e is not None]

    def delete(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    def _names(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.dir) if not n.startswith("."))
        except FileNotFoundError:
            return []

    def _read(self, name: str) -> CacheEntry | None:
        try:
            with open(os.path.join(self.dir, name), "rb") as f:
                return CacheEntry.from_json(json.load(f))
        except (OSError, ValueError, KeyError, TypeError):
            return None
