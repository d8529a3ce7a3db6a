"""Platform matching for image indexes, after containerd's `platforms` package.

Architectures and variants are normalised (x86_64 → amd64, aarch64 → arm64, amd64/v1 → amd64,
arm64/v8 → arm64, arm → arm/v7). An index entry matches when its OS and architecture equal
the wanted ones and its variant is the wanted one or, for arm, an older variant the wanted one
runs (arm/v7 runs v6 and v5). The exact variant wins over older ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from ports.registry import Descriptor, Platform

_ARCH_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "armhf": "arm",
    "armel": "arm",
    "i386": "386",
}
_ARM_VARIANTS = ("v5", "v6", "v7", "v8")


def normalise(os_: str, architecture: str, variant: str = "") -> tuple[str, str, str]:
    os_ = os_.lower()
    arch = architecture.lower()
    if architecture.lower() == "armhf" and not variant:
        variant = "v7"
    if architecture.lower() == "armel" and not variant:
        variant = "v6"
    arch = _ARCH_ALIASES.get(arch, arch)
    variant = variant.lower()
    if (arch, variant) in (("amd64", "v1"), ("arm64", "v8"), ("arm64", "8")):
        variant = ""
    elif arch == "arm":
        if not variant:
            variant = "v7"
        elif variant.isdigit():
            variant = f"v{variant}"
    return os_, arch, variant


def parse(text: str) -> tuple[str, str, str]:
    """`os/arch[/variant]` → the normalised triple."""
    parts = text.split("/")
    if len(parts) == 1:
        return normalise("linux", parts[0])
    return normalise(parts[0], parts[1], parts[2] if len(parts) > 2 else "")


def _rank(wanted: tuple[str, str, str], platform: Platform) -> int | None:
    """0 for an exact match, n > 0 for a variant n steps older, None for no match."""
    os_, arch, variant = normalise(platform.os, platform.architecture, platform.variant)
    if (os_, arch) != wanted[:2]:
        return None
    if variant == wanted[2]:
        return 0
    if arch == "arm" and variant in _ARM_VARIANTS and wanted[2] in _ARM_VARIANTS:
        steps = _ARM_VARIANTS.index(wanted[2]) - _ARM_VARIANTS.index(variant)
        return steps if steps > 0 else None
    return None


def select(manifests: Sequence[Descriptor], wanted: tuple[str, str, str]) -> Descriptor | None:
    """The best entry of an index for `wanted`, or None."""
    best: tuple[int, int, Descriptor] | None = None
    for position, entry in enumerate(manifests):
        if entry.platform is None:
            continue
        rank = _rank(wanted, entry.platform)
        if rank is not None and (best is None or (rank, position) < best[:2]):
            best = (rank, position, entry)
    return best[2] if best else None
