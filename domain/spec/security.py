"""Security settings: masked and read-only paths, privileged mode, read-only rootfs."""

from __future__ import annotations

from collections.abc import Sequence

from domain.errors import InvalidArgument
from domain.model import LOCALHOST, SecurityProfile
from domain.spec.capabilities import with_capabilities
from domain.spec.defaults import DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS
from domain.spec.mounts import with_writable_sysfs_and_cgroup
from domain.spec.pipeline import Spec, Step, linux, process
from domain.spec.seccomp import with_unconfined_seccomp
from domain.validation.text import quote


def with_masked_paths(paths: Sequence[str]) -> Step:
    def step(spec: Spec) -> None:
        linux(spec)["maskedPaths"] = list(paths)

    return step


def with_readonly_paths(paths: Sequence[str]) -> Step:
    def step(spec: Spec) -> None:
        linux(spec)["readonlyPaths"] = list(paths)

    return step


def with_cri_proc_paths(masked: Sequence[str], readonly: Sequence[str]) -> Step:
    """The masked and read-only paths kubelet sent; an empty list means the defaults.

    (kubelet sends its own defaults for ProcMount Default; the CRI cannot tell an empty
    list from an absent one, so empty falls back to the runtime's defaults, as in CRI-O.)
    """
    masked_step = with_masked_paths(masked or DEFAULT_MASKED_PATHS)
    readonly_step = with_readonly_paths(readonly or DEFAULT_READONLY_PATHS)

    def step(spec: Spec) -> None:
        masked_step(spec)
        readonly_step(spec)

    return step


def with_readonly_rootfs(readonly: bool) -> Step:
    def step(spec: Spec) -> None:
        spec.setdefault("root", {})["readonly"] = readonly

    return step


def with_privileged(all_caps: Sequence[str]) -> Step:
    """containerd's WithPrivileged: every capability, nothing masked or read-only,
    writable sysfs and cgroup fs, no seccomp or AppArmor."""
    caps = with_capabilities(all_caps)

    def step(spec: Spec) -> None:
        caps(spec)
        linux(spec)["maskedPaths"] = []
        linux(spec)["readonlyPaths"] = []
        with_writable_sysfs_and_cgroup(spec)
        with_unconfined_seccomp(spec)
        process(spec).pop("apparmorProfile", None)

    return step


def check_apparmor(profile: SecurityProfile, privileged: bool) -> None:
    """This runtime has no AppArmor: RuntimeDefault and Unconfined run unconfined (as CRI-O on a
    host without it; containerd refuses RuntimeDefault), a Localhost profile is refused."""
    if profile.kind == LOCALHOST and not privileged:
        raise InvalidArgument(
            f"apparmor is not supported on this node: cannot apply {quote(profile.localhost_ref)}"
        )
