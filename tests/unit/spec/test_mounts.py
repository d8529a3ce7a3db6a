"""CRI mounts over the default mounts, propagation and the replace rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidArgument
from domain.model import Mount, Propagation
from domain.spec.defaults import default_spec
from domain.spec.mounts import (
    bind,
    merge_cri_mounts,
    with_cri_mounts,
    with_mounts,
    with_writable_sysfs_and_cgroup,
    without_run_mount,
)
from domain.spec.pipeline import apply
from tests.unit.spec.builders import mount_at, mount_destinations


def test_cri_mount_options_and_propagation() -> None:
    mounts = (
        Mount(container_path="/a", host_path="/h/a", readonly=True),
        Mount(container_path="/b", host_path="/h/b", propagation=Propagation.HOST_TO_CONTAINER),
        Mount(container_path="/c", host_path="/h/c", selinux_relabel=True),
    )
    spec = apply(default_spec(), [with_cri_mounts(mounts)])
    assert mount_at(spec, "/a") == bind("/h/a", "/a", "rbind", "rprivate", "ro")
    assert mount_at(spec, "/b")["options"] == ["rbind", "rslave", "rw"]
    assert mount_at(spec, "/c")["options"] == ["rbind", "rprivate", "rw"]
    assert spec["linux"]["rootfsPropagation"] == "rslave"


def test_bidirectional_makes_the_root_shared() -> None:
    mounts = (
        Mount(container_path="/b", host_path="/h/b", propagation=Propagation.HOST_TO_CONTAINER),
        Mount(container_path="/s", host_path="/h/s", propagation=Propagation.BIDIRECTIONAL),
    )
    spec = apply(default_spec(), [with_cri_mounts(mounts)])
    assert mount_at(spec, "/s")["options"] == ["rbind", "rshared", "rw"]
    assert spec["linux"]["rootfsPropagation"] == "rshared"


def test_private_mounts_leave_root_propagation_unset() -> None:
    spec = apply(default_spec(), [with_cri_mounts((Mount(container_path="/a", host_path="/a"),))])
    assert "rootfsPropagation" not in spec["linux"]


def test_cri_mount_replaces_a_default_mount() -> None:
    mounts = (Mount(container_path="/dev/shm/", host_path="/big/shm"),)
    spec = apply(default_spec(), [with_cri_mounts(mounts)])
    assert mount_destinations(spec).count("/dev/shm/") == 1
    assert "/dev/shm" not in mount_destinations(spec)


def test_a_dev_mount_removes_every_default_under_dev() -> None:
    spec = apply(
        default_spec(), [with_cri_mounts((Mount(container_path="/dev", host_path="/dev"),))]
    )
    assert not [d for d in mount_destinations(spec) if d.startswith("/dev/")]
    assert mount_at(spec, "/dev")["type"] == "bind"


def test_extra_mounts_yield_to_cri_mounts() -> None:
    cri = (Mount(container_path="/etc/hosts", host_path="/kubelet/hosts"),)
    extra = (
        Mount(container_path="/etc/hosts", host_path="/pod/hosts"),
        Mount(container_path="/etc/hostname", host_path="/pod/hostname"),
    )
    merged = merge_cri_mounts(cri, extra)
    assert [m.host_path for m in merged] == ["/kubelet/hosts", "/pod/hostname"]


def test_mounts_are_sorted_by_depth() -> None:
    cri = (
        Mount(container_path="/a/b/c", host_path="/x"),
        Mount(container_path="/a", host_path="/y"),
        Mount(container_path="/a/b", host_path="/z"),
    )
    assert [m.container_path for m in merge_cri_mounts(cri, ())] == ["/a", "/a/b", "/a/b/c"]


def test_duplicate_cri_destinations_are_invalid() -> None:
    with pytest.raises(InvalidArgument):
        with_cri_mounts(
            (
                Mount(container_path="/a", host_path="/1"),
                Mount(container_path="/a/", host_path="/2"),
            )
        )


def test_without_run_mount_and_with_mounts() -> None:
    spec = apply(
        default_spec(), [without_run_mount, with_mounts([bind("/s", "/dev/shm", "rbind", "ro")])]
    )
    assert "/run" not in mount_destinations(spec)
    assert mount_at(spec, "/dev/shm")["source"] == "/s"


def test_writable_sysfs_and_cgroup() -> None:
    spec = apply(default_spec(), [with_writable_sysfs_and_cgroup])
    assert "rw" in mount_at(spec, "/sys")["options"]
    assert "ro" not in mount_at(spec, "/sys/fs/cgroup")["options"]


paths = st.lists(
    st.lists(
        st.sampled_from(["etc", "dev", "shm", "data", "run", "proc", "sys", "x"]),
        min_size=1,
        max_size=3,
    ),
    max_size=8,
).map(lambda ps: list(dict.fromkeys("/" + "/".join(p) for p in ps)))


@given(destinations=paths, propagation=st.sampled_from(list(Propagation)))
def test_every_cri_mount_appears_once_and_destinations_are_unique(
    destinations: list[str], propagation: Propagation
) -> None:
    cri = tuple(
        Mount(container_path=d, host_path=f"/host{d}", propagation=propagation)
        for d in destinations
    )
    spec = apply(default_spec(), [without_run_mount, with_cri_mounts(cri)])
    dests = mount_destinations(spec)
    assert len(dests) == len(set(dests))
    for m in cri:
        (found,) = [x for x in spec["mounts"] if x["destination"] == m.container_path]
        assert found["source"] == m.host_path and found["type"] == "bind"
