"""Pod networking with CNI plugins, after the CNI spec (1.0.0, 0.4.0 and 0.3.x plugins)."""

from adapters.cni.network import CniNetwork

__all__ = ["CniNetwork"]
