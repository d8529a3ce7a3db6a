"""runc's refusals of a container's config, told apart from real failures by their text."""

import pytest

from adapters.containerd.refusals import client_refusal
from domain.errors import FailedPrecondition, InvalidArgument

NOT_FOUND = (
    "failed to create containerd task: failed to create shim task: OCI runtime create failed: "
    'runc create failed: unable to start container process: exec: "nosuch": executable file '
    "not found in $PATH: unknown"
)


@pytest.mark.parametrize(
    ("details", "what"),
    [
        (NOT_FOUND, "command not found"),
        (
            'exec: "/bin/nosuch": stat /bin/nosuch: no such file or directory: unknown',
            "command not found",
        ),
        ('exec: "/etc/passwd": permission denied: unknown', "command not executable"),
        ('chdir to cwd ("/etc/passwd") set in config.json failed: not a directory', "working_dir"),
        (
            "runc create failed: unable to start container process: error during container "
            "init: mkdir /etc/passwd: not a directory: unknown",
            "working_dir",
        ),
    ],
)
def test_config_refusals_are_failed_precondition(details: str, what: str) -> None:
    err = client_refusal(details, "containerd Tasks.Create: ")
    assert isinstance(err, FailedPrecondition)
    assert what in str(err) and len(str(err)) <= 300


@pytest.mark.parametrize(
    ("details", "what"),
    [
        ("open /proc/sys/net/ipv4/nosuch: no such file or directory: unknown", "unknown sysctl"),
        (
            "error during container init: write /proc/sys/net/ipv4/ip_unprivileged_port_start: "
            "invalid argument: unknown",
            "sysctl value refused",
        ),
    ],
)
def test_sysctl_refusals_are_invalid_argument(details: str, what: str) -> None:
    err = client_refusal(details, "")
    assert isinstance(err, InvalidArgument) and what in str(err)


def test_other_failures_are_not_refusals() -> None:
    assert client_refusal("failed to start shim: mkdir /x: file exists", "") is None
