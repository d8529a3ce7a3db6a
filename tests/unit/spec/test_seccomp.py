"""Seccomp: RuntimeDefault's profile follows the capabilities; Localhost; Unconfined."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidArgument
from domain.model import SecurityProfile
from domain.spec.capabilities import ALL_CAPABILITIES, DEFAULT_CAPABILITIES, with_capabilities
from domain.spec.defaults import default_spec
from domain.spec.pipeline import apply
from domain.spec.seccomp import (
    ALLOWED,
    BY_CAPABILITY,
    CLONE_NAMESPACE_FLAGS,
    ENOSYS,
    default_profile,
    with_seccomp,
)

DEFAULT = SecurityProfile(kind="RuntimeDefault")


def allowed(profile: dict[str, Any]) -> set[str]:
    """Syscalls the profile allows whatever their arguments."""
    return {
        name
        for rule in profile["syscalls"]
        if rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("args")
        for name in rule["names"]
    }


def rules_for(profile: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [rule for rule in profile["syscalls"] if name in rule["names"]]


def seccomp_of(caps: list[str], profile: SecurityProfile = DEFAULT, **kw: Any) -> Any:
    spec = apply(
        default_spec(), [with_capabilities(caps), with_seccomp(profile, arch="amd64", **kw)]
    )
    return spec["linux"].get("seccomp")


def test_runtime_default_denies_what_is_not_listed_with_eperm() -> None:
    profile = seccomp_of(list(DEFAULT_CAPABILITIES), privileged=False)
    assert (profile["defaultAction"], profile["defaultErrnoRet"]) == ("SCMP_ACT_ERRNO", 1)
    assert profile["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    names = allowed(profile)
    assert {"read", "write", "execve", "arch_prctl", "chroot"} <= names  # SYS_CHROOT is default
    assert not {"mount", "unshare", "setns", "ptrace", "reboot", "kexec_load"} & names


def test_without_sys_admin_clone_may_not_make_namespaces_and_clone3_is_enosys() -> None:
    profile = seccomp_of(list(DEFAULT_CAPABILITIES), privileged=False)
    [clone] = rules_for(profile, "clone")
    assert clone["args"] == [
        {"index": 0, "value": CLONE_NAMESPACE_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
    ]
    assert rules_for(profile, "clone3") == [
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS}
    ]


def test_sys_admin_unlocks_mount_and_plain_clone() -> None:
    profile = seccomp_of([*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"], privileged=False)
    assert {"mount", "unshare", "setns", "clone", "clone3"} <= allowed(profile)
    assert all(not rule.get("args") for rule in rules_for(profile, "clone"))


@given(st.sets(st.sampled_from(ALL_CAPABILITIES)))
def test_each_capability_unlocks_exactly_its_syscalls(caps: set[str]) -> None:
    names = allowed(default_profile(sorted(caps), "amd64"))
    unlocked = {n for cap, calls in BY_CAPABILITY.items() if cap in caps for n in calls}
    guarded = {n for calls in BY_CAPABILITY.values() for n in calls} - set(ALLOWED)
    assert names & guarded == unlocked - set(ALLOWED)


def test_personality_only_for_known_personas() -> None:
    profile = seccomp_of(list(DEFAULT_CAPABILITIES), privileged=False)
    values = {rule["args"][0]["value"] for rule in rules_for(profile, "personality")}
    assert 0 in values and 0xFFFFFFFF in values and "personality" not in allowed(profile)


@pytest.mark.parametrize("profile", [SecurityProfile(kind="Unconfined"), DEFAULT])
def test_unconfined_and_privileged_have_none(profile: SecurityProfile) -> None:
    privileged = profile.kind == "RuntimeDefault"
    assert seccomp_of(list(ALL_CAPABILITIES), profile, privileged=privileged) is None


def test_localhost_uses_the_nodes_profile() -> None:
    mine = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}
    profile = SecurityProfile(kind="Localhost", localhost_ref="/var/lib/kubelet/seccomp/p.json")
    assert seccomp_of([], profile, privileged=False, localhost=mine) == mine
    with pytest.raises(InvalidArgument):
        seccomp_of([], profile, privileged=False)


@pytest.mark.parametrize(
    "bad",
    [
        SecurityProfile(kind="Bogus"),
        SecurityProfile(kind="RuntimeDefault", localhost_ref="/x"),
        SecurityProfile(kind="Localhost", localhost_ref="relative.json"),
    ],
)
def test_profile_validation(bad: SecurityProfile) -> None:
    with pytest.raises(InvalidArgument):
        with_seccomp(bad, privileged=False, arch="amd64")
