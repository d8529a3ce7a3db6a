"""Sysctls: only those of a namespace the pod owns."""

import pytest

from domain.errors import InvalidArgument
from domain.validation.sysctls import check_sysctls


@pytest.mark.parametrize(
    "name",
    ["kernel.panic", "vm.swappiness", "net/ipv4/ip_forward", "net..x", "../x", "kernel.hostname"],
)
def test_non_namespaced_or_malformed_sysctls_are_refused(name: str) -> None:
    with pytest.raises(InvalidArgument, match=r"^linux\.sysctls"):
        check_sysctls("linux.sysctls", {name: "1"}, host_network=False, host_ipc=False)


def test_namespaced_sysctls_are_accepted() -> None:
    sysctls = {
        "net.ipv4.ip_unprivileged_port_start": "0",
        "kernel.shmmax": "1",
        "fs.mqueue.msg_max": "10",
        "kernel.domainname": "x",
    }
    check_sysctls("s", sysctls, host_network=False, host_ipc=False)


def test_net_sysctls_are_refused_with_the_host_network() -> None:
    with pytest.raises(InvalidArgument, match="host network"):
        check_sysctls("s", {"net.ipv4.ip_forward": "1"}, host_network=True, host_ipc=False)
    with pytest.raises(InvalidArgument, match="UTS"):
        check_sysctls("s", {"kernel.domainname": "x"}, host_network=True, host_ipc=False)


def test_ipc_sysctls_are_refused_with_the_host_ipc() -> None:
    with pytest.raises(InvalidArgument, match="IPC"):
        check_sysctls("s", {"kernel.shmmax": "1"}, host_network=False, host_ipc=True)


def test_values_without_control_characters() -> None:
    with pytest.raises(InvalidArgument, match="control"):
        check_sysctls("s", {"kernel.shmmax": "1\n2"}, host_network=False, host_ipc=False)
