"""Sysctls: only those of a kernel namespace the pod has of its own, as runc's validator and
kubelet's namespaced-sysctl lists define them."""

from __future__ import annotations

import re
from collections.abc import Mapping

from domain.validation.text import check_plain, invalid

# The IPC namespace's sysctls (runc: validSysctlMap; fs.mqueue.* below).
IPC_SYSCTLS = frozenset(
    {
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    }
)
IPC_PREFIX = "fs.mqueue."
NET_PREFIX = "net."
UTS_SYSCTLS = frozenset({"kernel.domainname"})
# kubelet's sysctl name syntax with dots only (kubelet turns `/` separators into dots).
_NAME = re.compile(r"^([a-z0-9]([-_a-z0-9]*[a-z0-9])?\.)*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$")
NAME_LIMIT = 253
VALUE_LIMIT = 4096


def check_sysctls(
    field: str, sysctls: Mapping[str, str], host_network: bool, host_ipc: bool
) -> None:
    """Each sysctl must belong to a namespace the pod owns: net.* to its network namespace,
    kernel.shm*/msg*/sem and fs.mqueue.* to its IPC namespace, kernel.domainname to its UTS
    namespace (shared with the host in a host-network pod)."""
    for name, value in sysctls.items():
        where = f"{field}[{name[:64]!r}]"
        if len(name) > NAME_LIMIT or not _NAME.match(name):
            raise invalid(
                f"{field} name",
                name,
                "is not a sysctl name (dot-separated, like 'net.ipv4.ip_forward')",
            )
        check_plain(where, value, VALUE_LIMIT)
        if name in IPC_SYSCTLS or name.startswith(IPC_PREFIX):
            if host_ipc:
                raise invalid(
                    f"{field} name", name, "belongs to the IPC namespace; the pod shares the host's"
                )
        elif name.startswith(NET_PREFIX):
            if host_network:
                raise invalid(
                    f"{field} name",
                    name,
                    "belongs to the network namespace; the pod uses the host network",
                )
        elif name in UTS_SYSCTLS:
            if host_network:
                raise invalid(
                    f"{field} name", name, "belongs to the UTS namespace; the pod shares the host's"
                )
        elif name == "kernel.hostname":
            raise invalid(f"{field} name", name, "is not allowed: set the pod's hostname instead")
        else:
            raise invalid(
                f"{field} name",
                name,
                "is not a namespaced sysctl (only net.*, fs.mqueue.*, kernel.shm*/msg*/sem "
                "and kernel.domainname)",
            )
