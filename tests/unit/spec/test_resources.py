"""cgroups path, resources, oom_score_adj and sysctls."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain.model import HugepageLimit, LinuxResources
from domain.spec import NodeOptions
from domain.spec.defaults import default_spec
from domain.spec.pipeline import apply
from domain.spec.resources import (
    cgroups_path,
    clamp_oom_score_adj,
    updated_resources,
    with_oom_score_adj,
    with_resources,
    with_sandbox_cpu_shares,
    with_sysctls,
)

CGROUPFS = NodeOptions()
SYSTEMD = NodeOptions(cgroup_driver="systemd")


def test_cgroups_path() -> None:
    assert cgroups_path("/kubepods/pod1", "abc", CGROUPFS) == "/kubepods/pod1/abc"
    assert cgroups_path("", "abc", CGROUPFS) == "/k8s.io/abc"
    assert (
        cgroups_path("/kubepods.slice/kubepods-pod1.slice", "abc", SYSTEMD)
        == "kubepods-pod1.slice:cri-containerd:abc"
    )
    assert cgroups_path("", "abc", SYSTEMD) == "system.slice:cri-containerd:abc"


def test_cgroups_path_without_parent_uses_the_nodes_default() -> None:
    node = NodeOptions(default_cgroup_parent="/elsewhere")
    assert cgroups_path("", "abc", node) == "/elsewhere/abc"
    assert cgroups_path("/kubepods", "abc", node) == "/kubepods/abc"


def test_updated_resources_are_the_current_ones_with_the_update_over_them() -> None:
    current = LinuxResources(cpu_quota=50000, cpu_shares=512, memory_limit_in_bytes=1 << 26)
    update = LinuxResources(cpu_shares=1024, unified={"memory.high": "1"})
    assert updated_resources(current, update, CGROUPFS) == {
        "cpu": {"quota": 50000, "shares": 1024},
        "memory": {"limit": 1 << 26, "swap": 1 << 26},
        "unified": {"memory.high": "1"},
    }
    assert updated_resources(None, update, NodeOptions(swap_controller=False)) == {
        "cpu": {"shares": 1024},
        "unified": {"memory.high": "1"},
    }


def test_resources() -> None:
    res = LinuxResources(
        cpu_period=100000,
        cpu_quota=50000,
        cpu_shares=512,
        cpuset_cpus="0-1",
        cpuset_mems="0",
        memory_limit_in_bytes=1 << 26,
        hugepage_limits=(HugepageLimit(page_size="2MB", limit=0),),
        unified={"memory.high": "1000000"},
    )
    node = NodeOptions(hugetlb_controller=True)
    out = apply(default_spec(), [with_resources(res, node)])["linux"]["resources"]
    assert out["cpu"] == {
        "period": 100000,
        "quota": 50000,
        "shares": 512,
        "cpus": "0-1",
        "mems": "0",
    }
    assert out["memory"] == {"limit": 1 << 26, "swap": 1 << 26}
    assert out["hugepageLimits"] == [{"pageSize": "2MB", "limit": 0}]
    assert out["unified"] == {"memory.high": "1000000"}
    assert out["devices"][0] == {"allow": False, "access": "rwm"}  # kept


def test_resources_follow_the_node() -> None:
    res = LinuxResources(
        memory_limit_in_bytes=100,
        memory_swap_limit_in_bytes=300,
        hugepage_limits=(HugepageLimit(page_size="2MB", limit=0),),
    )
    out = apply(default_spec(), [with_resources(res, CGROUPFS)])["linux"]["resources"]
    assert out["memory"] == {"limit": 100, "swap": 300}
    assert "hugepageLimits" not in out  # no hugetlb controller by default
    no_swap = NodeOptions(swap_controller=False)
    out = apply(default_spec(), [with_resources(res, no_swap)])["linux"]["resources"]
    assert out["memory"] == {"limit": 100}


def test_zero_means_unset() -> None:
    out = apply(default_spec(), [with_resources(LinuxResources(), CGROUPFS)])["linux"]["resources"]
    assert set(out) == {"devices"}


def test_sandbox_shares_and_sysctls() -> None:
    spec = apply(
        default_spec(), [with_sandbox_cpu_shares, with_sysctls({"net.core.somaxconn": "1024"})]
    )
    assert spec["linux"]["resources"]["cpu"]["shares"] == 2
    assert spec["linux"]["sysctl"] == {"net.core.somaxconn": "1024"}
    assert "sysctl" not in apply(default_spec(), [with_sysctls({})])["linux"]


def test_oom_score_adj_is_clamped() -> None:
    node = NodeOptions(min_oom_score_adj=0)
    assert apply(default_spec(), [with_oom_score_adj(-998, node)])["process"]["oomScoreAdj"] == 0
    assert apply(default_spec(), [with_oom_score_adj(500, node)])["process"]["oomScoreAdj"] == 500
    free = NodeOptions(min_oom_score_adj=None)
    assert apply(default_spec(), [with_oom_score_adj(-998, free)])["process"]["oomScoreAdj"] == -998


@given(requested=st.integers(-1000, 1000), minimum=st.none() | st.integers(-1000, 1000))
def test_oom_clamp_never_below_the_minimum(requested: int, minimum: int | None) -> None:
    got = clamp_oom_score_adj(requested, minimum)
    if minimum is None:
        assert got == requested
    else:
        assert got >= minimum and got == max(requested, minimum)
