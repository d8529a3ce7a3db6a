"""Linux capabilities: the default set, normalisation of CRI names, and the add/drop steps."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from domain.model import Capabilities
from domain.spec.pipeline import Spec, Step, process

# Every capability of Linux 5.9+ (0 .. 40), in kernel order.
ALL_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)

# containerd's (and Docker's) default set for unprivileged containers.
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

# The sets a process capability is granted in; inheritable and ambient stay empty.
GRANTED_SETS = ("bounding", "effective", "permitted")
ALL_SETS = (*GRANTED_SETS, "inheritable", "ambient")


def normalize(name: str) -> str:
    """`chown`, `CHOWN` and `CAP_CHOWN` all name `CAP_CHOWN` (the CRI sends no prefix)."""
    upper = name.strip().upper()
    return upper if upper.startswith("CAP_") else f"CAP_{upper}"


def is_all(name: str) -> bool:
    return name.strip().upper() in ("ALL", "CAP_ALL")


def with_capabilities(caps: Sequence[str]) -> Step:
    """Grant exactly `caps` (bounding, effective, permitted); nothing inheritable or ambient."""

    def step(spec: Spec) -> None:
        process(spec)["capabilities"] = {key: list(caps) for key in GRANTED_SETS}

    return step


def with_added_capabilities(caps: Iterable[str]) -> Step:
    """Add `caps` to the granted sets, keeping each set free of duplicates."""
    wanted = list(caps)

    def step(spec: Spec) -> None:
        sets = process(spec).setdefault("capabilities", {})
        for key in GRANTED_SETS:
            current = sets.setdefault(key, [])
            current.extend(c for c in dict.fromkeys(wanted) if c not in current)

    return step


def with_dropped_capabilities(caps: Iterable[str]) -> Step:
    """Remove `caps` from every set."""
    unwanted = set(caps)

    def step(spec: Spec) -> None:
        sets = process(spec).setdefault("capabilities", {})
        for key in list(sets):
            sets[key] = [c for c in sets[key] if c not in unwanted]

    return step


def without_ambient_capabilities(spec: Spec) -> None:
    """No ambient capabilities (the implication of non-root + caps is undefined in k8s)."""
    process(spec).setdefault("capabilities", {}).pop("ambient", None)


def with_cri_capabilities(requested: Capabilities, all_caps: Sequence[str]) -> Step:
    """The CRI's add/drop lists, as containerd applies them.

    `ALL` in add grants `all_caps` first, `ALL` in drop then clears everything; the named
    additions are applied next and the named drops last, so "drop ALL, add NET_BIND_SERVICE"
    leaves exactly NET_BIND_SERVICE and a cap both added and dropped ends dropped.
    """
    add = [normalize(c) for c in requested.add if not is_all(c)]
    drop = [normalize(c) for c in requested.drop if not is_all(c)]
    steps: list[Step] = []
    if any(is_all(c) for c in requested.add):
        steps.append(with_capabilities(all_caps))
    if any(is_all(c) for c in requested.drop):
        steps.append(with_capabilities(()))
    steps += [with_added_capabilities(add), with_dropped_capabilities(drop)]

    def step(spec: Spec) -> None:
        for each in steps:
            each(spec)

    return step
