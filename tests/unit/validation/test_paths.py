"""Log paths, host paths, cgroup parents and working directories."""

import pytest

from domain.errors import InvalidArgument
from domain.validation.paths import (
    check_absolute,
    check_cgroup_parent,
    check_log_directory,
    check_log_path,
    check_working_dir,
    effective_log_path,
)

LOGS = "/var/log/pods/ns_pod_uid"


@pytest.mark.parametrize(
    "path",
    [
        "/some/where.log",
        "../../etc/passwd",
        "a/../../x.log",
        ".",
        "..",
        "",
        "a\x00b",
        "x" * 5000,
        "dir/",
        "n" * 300 + "/x.log",
    ],
)
def test_log_paths_that_leave_or_are_not_a_file_are_refused(path: str) -> None:
    if not path:
        check_log_path("log_path", LOGS, path)  # empty: no log, accepted
        return
    with pytest.raises(InvalidArgument, match=r"^log_path "):
        check_log_path("log_path", LOGS, path)


@pytest.mark.parametrize("path", ["c/0.log", "c.log", "a/./b/../c.log", "sub//x.log"])
def test_log_paths_inside_the_directory_are_accepted(path: str) -> None:
    check_log_path("log_path", LOGS, path)


def test_effective_log_path_is_empty_without_a_directory() -> None:
    assert effective_log_path("", "c.log") == ""
    assert effective_log_path(LOGS, "") == ""
    assert effective_log_path(LOGS, "a/./b.log") == f"{LOGS}/a/b.log"


def test_log_directory_must_be_absolute_when_set() -> None:
    check_log_directory("log_directory", "")
    with pytest.raises(InvalidArgument, match="absolute"):
        check_log_directory("log_directory", "relative/dir")


@pytest.mark.parametrize("path", ["", "relative", "/a\x00b", "/" + "x" * 5000])
def test_host_paths_are_absolute_without_nul(path: str) -> None:
    with pytest.raises(InvalidArgument, match=r"^mounts\[0\]\.host_path "):
        check_absolute("mounts[0].host_path", path)


@pytest.mark.parametrize("parent", ["../../../../x", "/kubepods/../x", "/a/./b", "/a\x00"])
def test_cgroup_parents_stay_under_the_root(parent: str) -> None:
    with pytest.raises(InvalidArgument, match=r"linux\.cgroup_parent"):
        check_cgroup_parent("linux.cgroup_parent", parent, systemd=False)


def test_cgroup_parents_accepted() -> None:
    check_cgroup_parent("p", "/kubepods/burstable/pod1", systemd=False)
    check_cgroup_parent("p", "kubepods-pod1.slice", systemd=True)
    with pytest.raises(InvalidArgument, match="slice"):
        check_cgroup_parent("p", "/kubepods/pod1", systemd=True)


@pytest.mark.parametrize("cwd", ["relative", "/a\x00"])
def test_working_dir_absolute_without_nul(cwd: str) -> None:
    with pytest.raises(InvalidArgument, match=r"^working_dir "):
        check_working_dir("working_dir", cwd)


def test_path_components_within_name_max() -> None:
    check_absolute("working_dir", "/" + "n" * 255)
    with pytest.raises(InvalidArgument, match="component longer than 255"):
        check_absolute("working_dir", "//" + "n" * 300 + "/")
