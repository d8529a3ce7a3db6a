"""Namespaces of the sandbox and of the containers joining it."""

from __future__ import annotations

import pytest

from domain.errors import FailedPrecondition
from domain.model import NamespaceMode, NamespaceOptions
from domain.spec.defaults import default_spec
from domain.spec.namespaces import container_namespaces, sandbox_namespaces
from domain.spec.pipeline import apply
from tests.unit.spec.builders import namespaces

POD = NamespaceOptions()
HOST = NamespaceOptions(network=NamespaceMode.NODE, ipc=NamespaceMode.NODE, pid=NamespaceMode.NODE)


def test_sandbox_gets_the_pinned_netns() -> None:
    spec = apply(default_spec(), sandbox_namespaces(POD, "/var/run/netns/x"))
    assert namespaces(spec) == {
        "pid": "",
        "ipc": "",
        "uts": "",
        "mount": "",
        "network": "/var/run/netns/x",
    }


def test_host_sandbox_has_only_mount_ns() -> None:
    spec = apply(default_spec(), sandbox_namespaces(HOST, ""))
    assert namespaces(spec) == {"mount": ""}


def test_container_joins_the_sandbox() -> None:
    spec = apply(default_spec(), container_namespaces(POD, POD, 42))
    assert namespaces(spec) == {
        "pid": "",
        "network": "/proc/42/ns/net",
        "uts": "/proc/42/ns/uts",
        "ipc": "/proc/42/ns/ipc",
        "mount": "",
    }


@pytest.mark.parametrize(
    ("mode", "target", "expected"),
    [
        (NamespaceMode.POD, None, "/proc/42/ns/pid"),
        (NamespaceMode.CONTAINER, None, ""),
        (NamespaceMode.TARGET, 77, "/proc/77/ns/pid"),
    ],
)
def test_container_pid_modes(mode: NamespaceMode, target: int | None, expected: str) -> None:
    opts = NamespaceOptions(pid=mode, target_id="t" if target else "")
    spec = apply(default_spec(), container_namespaces(POD, opts, 42, target))
    assert namespaces(spec)["pid"] == expected


def test_container_on_host_namespaces() -> None:
    spec = apply(default_spec(), container_namespaces(HOST, HOST, 42))
    assert namespaces(spec) == {"mount": ""}


def test_target_without_pid_and_sandbox_without_pid_fail() -> None:
    with pytest.raises(FailedPrecondition):
        container_namespaces(POD, NamespaceOptions(pid=NamespaceMode.TARGET, target_id="t"), 42)
    with pytest.raises(FailedPrecondition):
        container_namespaces(POD, POD, 0)
