"""Capabilities, device permissions, runtime handlers."""

import pytest

from domain.errors import InvalidArgument
from domain.model import Capabilities
from domain.validation.security import (
    check_capabilities,
    check_device_permissions,
    check_runtime_handler,
)


def test_known_capabilities_in_any_spelling() -> None:
    check_capabilities("c", Capabilities(add=("chown", "CAP_SYS_ADMIN", "ALL"), drop=("all",)))


@pytest.mark.parametrize("kind", ["add", "drop", "add_ambient"])
def test_unknown_capabilities_are_refused(kind: str) -> None:
    with pytest.raises(InvalidArgument, match=r"c\.\w+_capabilities\[0\] 'CAP_NO_SUCH'"):
        check_capabilities("c", Capabilities(**{kind: ("CAP_NO_SUCH",)}))  # type: ignore[arg-type]


def test_device_permissions() -> None:
    for good in ("r", "rw", "rwm", "mr"):
        check_device_permissions("p", good)
    for bad in ("", "xyz", "rwx"):
        with pytest.raises(InvalidArgument, match="'r', 'w' and 'm'"):
            check_device_permissions("p", bad)


def test_runtime_handlers() -> None:
    check_runtime_handler("runtime_handler", "", ("", "runc"))
    for bad in ("kata", "../../../bin/sh"):
        with pytest.raises(InvalidArgument, match="not a configured runtime handler"):
            check_runtime_handler("runtime_handler", bad, ("", "runc"))
