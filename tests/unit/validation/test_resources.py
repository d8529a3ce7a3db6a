"""Resource limits: the ranges runc and the kernel accept, cpusets, hugepages, unified."""

import pytest

from domain.errors import InvalidArgument
from domain.model import HugepageLimit, LinuxResources
from domain.spec.node import NodeOptions
from domain.validation.resources import check_resources, parse_cpu_list

NODE = NodeOptions(online_cpus="0-1", online_mems="0", hugepage_sizes=("2MB", "1GB"))
V2 = NODE.model_copy(update={"cgroup_v2": True})


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"cpu_period": 1}, "cpu_period"),
        ({"cpu_period": -5}, "cpu_period"),
        ({"cpu_quota": -2}, "cpu_quota"),
        ({"cpu_quota": 10}, "cpu_quota"),
        ({"cpu_shares": 2**62}, "cpu_shares"),
        ({"cpu_shares": -1}, "cpu_shares"),
        ({"memory_limit_in_bytes": 1}, "memory_limit_in_bytes"),
        ({"memory_limit_in_bytes": -5}, "memory_limit_in_bytes"),
        (
            {"memory_limit_in_bytes": 64 << 20, "memory_swap_limit_in_bytes": 32 << 20},
            "memory_swap_limit_in_bytes",
        ),
        ({"oom_score_adj": 5000}, "oom_score_adj"),
        ({"cpuset_cpus": "0-9999"}, "cpuset_cpus"),
        ({"cpuset_cpus": "garbage"}, "cpuset_cpus"),
        ({"cpuset_cpus": "3-1"}, "cpuset_cpus"),
        ({"cpuset_mems": "1"}, "cpuset_mems"),
        ({"hugepage_limits": (HugepageLimit(page_size="bogus", limit=1),)}, "hugepage_limits"),
        ({"unified": {"memory.max": "1"}}, "unified"),
    ],
)
def test_out_of_range_resources_are_refused(fields: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument, match=rf"^linux\.resources\.{field}"):
        check_resources("linux.resources", LinuxResources(**fields), NODE)  # type: ignore[arg-type]


def test_sane_resources_are_accepted() -> None:
    res = LinuxResources(
        cpu_period=100000,
        cpu_quota=50000,
        cpu_shares=1024,
        memory_limit_in_bytes=64 << 20,
        memory_swap_limit_in_bytes=128 << 20,
        oom_score_adj=-999,
        cpuset_cpus="0-1",
        cpuset_mems="0",
        hugepage_limits=(HugepageLimit(page_size="2MB", limit=1 << 21),),
    )
    check_resources("linux.resources", res, NODE)
    check_resources("linux", LinuxResources(cpu_quota=-1, memory_swap_limit_in_bytes=-1), NODE)


def test_unified_only_on_cgroup_v2_with_file_names() -> None:
    check_resources("r", LinuxResources(unified={"memory.high": "max"}), V2)
    for key in ("../../x", "memory", "memory.max/x"):
        with pytest.raises(InvalidArgument, match="cgroup v2 file name"):
            check_resources("r", LinuxResources(unified={key: "1"}), V2)
    with pytest.raises(InvalidArgument, match="control characters"):
        check_resources("r", LinuxResources(unified={"memory.high": "1\n2"}), V2)


def test_unknown_host_facts_are_not_checked() -> None:
    res = LinuxResources(
        cpuset_cpus="7", hugepage_limits=(HugepageLimit(page_size="2MB", limit=0),)
    )
    check_resources("r", res, NodeOptions())


def test_cpu_lists() -> None:
    assert parse_cpu_list("f", "0-2,5") == {0, 1, 2, 5}
    for bad in ("", "1,", "a", "1--2", "0-99999"):
        with pytest.raises(InvalidArgument):
            parse_cpu_list("f", bad)
