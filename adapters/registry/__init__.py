"""OCI distribution registries over HTTP (httpx): the `ports.registry.Registry` adapter."""

from adapters.registry.client import RegistryClient
from adapters.registry.hosts import Host, HostsConfig

__all__ = ["Host", "HostsConfig", "RegistryClient"]
