"""OCI distribution registries over HTTP (httpx): the `ports.registry.Registry` adapter."""

import sys
import types


def _without_httpx_cli() -> None:
    """httpx imports its command line (click, rich, pygments: 4 MiB resident) whenever those
    are installed (here by development tools); hexcri never runs it, so that module is a stub."""
    if "httpx" not in sys.modules and "httpx._main" not in sys.modules:
        stub = types.ModuleType("httpx._main", "httpx's command line, not loaded by hexcri")
        stub.main = lambda: None  # type: ignore[attr-defined]
        sys.modules["httpx._main"] = stub


_without_httpx_cli()

from adapters.registry.client import RegistryClient  # noqa: E402
from adapters.registry.hosts import Host, HostsConfig  # noqa: E402

__all__ = ["Host", "HostsConfig", "RegistryClient"]
