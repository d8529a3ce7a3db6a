"""Network namespaces pinned by bind mounts, created and removed with pyroute2."""

from adapters.netns.namespaces import PREFIX, PyrouteNamespaces

__all__ = ["PREFIX", "PyrouteNamespaces"]
