"""Network configuration: the lexically first `.conflist`/`.conf`/`.json` of the conf dir.

A `.conf` (a single plugin) is wrapped into a one-plugin list, as libcni does. The directory is
re-read only when it changes: `ConfDir.current()` compares a cheap stat signature first.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import Any

from adapters.cni.errors import CniConfigError, CniNotReady

EXTENSIONS = (".conflist", ".conf", ".json")
SUPPORTED_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0")


@dataclass(frozen=True)
class NetworkConfigList:
    """A validated network configuration list and the exact bytes it was parsed from."""

    name: str
    cni_version: str
    plugins: tuple[dict[str, Any], ...]
    disable_check: bool = False
    source: str = ""
    raw: bytes = b""

    @property
    def plugin_types(self) -> list[str]:
        return [str(p["type"]) for p in self.plugins]


def parse(raw: bytes, source: str = "") -> NetworkConfigList:
    """Parse and validate a config list (or a single config, wrapped)."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise CniConfigError(f"{source or 'network config'}: invalid JSON: {e}") from e
    if not isinstance(doc, dict):
        raise CniConfigError(f"{source or 'network config'}: not a JSON object")
    if "plugins" not in doc and not source.endswith(".conflist"):
        doc = _wrap_single(doc)
        raw = json.dumps(doc).encode()
    return _validate(doc, raw, source)


def _wrap_single(conf: dict[str, Any]) -> dict[str, Any]:
    plugin = {k: v for k, v in conf.items() if k not in ("name", "cniVersion")}
    wrapped: dict[str, Any] = {"name": conf.get("name"), "cniVersion": conf.get("cniVersion")}
    wrapped["plugins"] = [plugin]
    return wrapped


def _validate(doc: dict[str, Any], raw: bytes, source: str) -> NetworkConfigList:
    where = source or "network config"
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        raise CniConfigError(f"{where}: missing network name")
    if "/" in name or name in (".", ".."):
        raise CniConfigError(f"{where}: invalid network name {name!r}")
    version = doc.get("cniVersion")
    if not isinstance(version, str) or not version:
        raise CniConfigError(f"{where}: missing cniVersion")
    if version not in SUPPORTED_VERSIONS:
        raise CniConfigError(
            f"{where}: unsupported cniVersion {version!r} (supported: "
            f"{', '.join(SUPPORTED_VERSIONS)})"
        )
    plugins = doc.get("plugins")
    if not isinstance(plugins, list) or not plugins:
        raise CniConfigError(f"{where}: no plugins in the network {name!r}")
    for i, plugin in enumerate(plugins):
        if not isinstance(plugin, dict):
            raise CniConfigError(f"{where}: plugin {i} is not a JSON object")
        kind = plugin.get("type")
        if not isinstance(kind, str) or not kind or "/" in kind or kind in (".", ".."):
            raise CniConfigError(f"{where}: plugin {i} has no valid 'type'")
        caps = plugin.get("capabilities", {})
        if not isinstance(caps, dict):
            raise CniConfigError(f"{where}: plugin {kind!r}: 'capabilities' must be an object")
    disable_check = doc.get("disableCheck", False)
    if isinstance(disable_check, str):  # libcni accepts "true"/"false" strings
        disable_check = disable_check.lower() == "true"
    return NetworkConfigList(
        name=name,
        cni_version=version,
        plugins=tuple(plugins),
        disable_check=bool(disable_check),
        source=source,
        raw=raw,
    )


def config_files(conf_dir: str) -> list[str]:
    """The candidate files of the conf dir, sorted by name."""
    try:
        names = os.listdir(conf_dir)
    except FileNotFoundError:
        return []
    return sorted(
        os.path.join(conf_dir, n) for n in names if n.endswith(EXTENSIONS) and not n.startswith(".")
    )


def load(conf_dir: str) -> NetworkConfigList:
    """The network of the lexically first config file; CniNotReady when there is none."""
    files = config_files(conf_dir)
    if not files:
        raise CniNotReady(f"no network config found in {conf_dir}")
    path = files[0]
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise CniConfigError(f"{path}: {e.strerror}") from e
    return parse(raw, path)


Signature = tuple[tuple[str, int, int, int], ...]


def signature(conf_dir: str) -> Signature:
    """What changes when the config does: name, inode, size and mtime of each candidate."""
    sig: list[tuple[str, int, int, int]] = []
    for path in config_files(conf_dir):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            continue
        sig.append((path, st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(sig)


class ConfDir:
    """The conf dir's current network, re-read only when the directory changed.

    Thread-safe: callers run `current()` in worker threads, several at a time.
    """

    def __init__(self, conf_dir: str) -> None:
        self.conf_dir = conf_dir
        self._lock = threading.Lock()
        self._sig: Signature | None = None
        self._state: NetworkConfigList | CniNotReady = CniNotReady("not read yet")

    def current(self) -> NetworkConfigList:
        """The valid network config, or raise CniNotReady saying why there is none."""
        with self._lock:
            sig = signature(self.conf_dir)
            if sig != self._sig:
                try:
                    self._state = load(self.conf_dir)
                except CniNotReady as e:
                    self._state = e
                self._sig = sig
            state = self._state
        if isinstance(state, CniNotReady):  # a fresh error: tracebacks must not pile up
            raise type(state)(*state.args)
        return state
