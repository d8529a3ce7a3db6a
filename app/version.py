"""hexcri's version, from the installed package's metadata: pyproject.toml's `version` is
the only place it is written."""

from __future__ import annotations

from importlib import metadata


def _installed() -> str:
    try:
        return metadata.version("hexcri")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "unknown"


VERSION = _installed()
