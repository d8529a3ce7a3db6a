"""Capabilities by their known names, device permissions, runtime handlers, masked paths."""

from __future__ import annotations

from collections.abc import Sequence

from domain.model import Capabilities
from domain.spec.capabilities import ALL_CAPABILITIES, normalize
from domain.validation.text import invalid

ALL = "ALL"
DEVICE_PERMISSIONS = frozenset("rwm")


def check_capabilities(field: str, caps: Capabilities) -> None:
    """Every name is a Linux capability (with or without `CAP_`, any case) or `ALL`."""
    known = set(ALL_CAPABILITIES)
    for kind, names in (
        ("add_capabilities", caps.add),
        ("drop_capabilities", caps.drop),
        ("add_ambient_capabilities", caps.add_ambient),
    ):
        for i, name in enumerate(names):
            if name.upper() != ALL and normalize(name) not in known:
                raise invalid(f"{field}.{kind}[{i}]", name, "is not a Linux capability")


def check_device_permissions(field: str, permissions: str) -> None:
    if not permissions or not set(permissions) <= DEVICE_PERMISSIONS:
        raise invalid(field, permissions, "must be a combination of 'r', 'w' and 'm'")


def check_runtime_handler(field: str, handler: str, configured: Sequence[str]) -> None:
    if handler not in configured:
        names = ", ".join(repr(h) for h in configured)
        raise invalid(field, handler, f"is not a configured runtime handler ({names})")
