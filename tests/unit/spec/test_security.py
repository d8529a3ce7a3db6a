"""Masked/read-only paths, privileged mode, read-only rootfs."""

from __future__ import annotations

import pytest

from domain.spec.capabilities import ALL_CAPABILITIES
from domain.spec.defaults import DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, default_spec
from domain.spec.pipeline import apply
from domain.spec.security import with_cri_proc_paths, with_privileged, with_readonly_rootfs
from tests.unit.spec.builders import mount_at


def test_kubelet_paths_replace_the_defaults() -> None:
    spec = apply(default_spec(), [with_cri_proc_paths(["/proc/x"], ["/proc/y"])])
    assert spec["linux"]["maskedPaths"] == ["/proc/x"]
    assert spec["linux"]["readonlyPaths"] == ["/proc/y"]


def test_empty_lists_mean_the_defaults() -> None:
    spec = apply(default_spec(), [with_cri_proc_paths([], [])])
    assert spec["linux"]["maskedPaths"] == list(DEFAULT_MASKED_PATHS)
    assert spec["linux"]["readonlyPaths"] == list(DEFAULT_READONLY_PATHS)


def test_privileged() -> None:
    base = default_spec()
    base["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ERRNO"}
    spec = apply(base, [with_privileged(ALL_CAPABILITIES)])
    assert spec["process"]["capabilities"]["bounding"] == list(ALL_CAPABILITIES)
    assert spec["linux"]["maskedPaths"] == [] and spec["linux"]["readonlyPaths"] == []
    assert "ro" not in mount_at(spec, "/sys")["options"]
    assert "ro" not in mount_at(spec, "/sys/fs/cgroup")["options"]
    assert "seccomp" not in spec["linux"]


def test_readonly_rootfs() -> None:
    assert apply(default_spec(), [with_readonly_rootfs(True)])["root"]["readonly"] is True


def test_apparmor_localhost_is_refused_without_apparmor() -> None:
    from domain.errors import InvalidArgument
    from domain.model import SecurityProfile
    from domain.spec.security import check_apparmor

    check_apparmor(SecurityProfile(kind="RuntimeDefault"), privileged=False)
    local = SecurityProfile(kind="Localhost", localhost_ref="k8s-nginx")
    check_apparmor(local, privileged=True)
    with pytest.raises(InvalidArgument, match="apparmor"):
        check_apparmor(local, privileged=False)
