"""The pause (sandbox) container's spec: containerd's sandboxContainerSpec as a pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.errors import InvalidArgument
from domain.model import Image, NamespaceMode, Sandbox
from domain.spec.annotations import cri_annotations, with_annotations
from domain.spec.defaults import default_spec, without_default_security_settings
from domain.spec.files import resolv_conf
from domain.spec.mounts import DEV_SHM, ETC_RESOLV, bind, with_mounts, without_run_mount
from domain.spec.namespaces import sandbox_namespaces
from domain.spec.node import RESOLV_FILE, SHM_DIR, NodeOptions, sandbox_path
from domain.spec.pipeline import Spec, Step, apply
from domain.spec.process import with_args, with_cwd, with_env
from domain.spec.resources import (
    SANDBOX_OOM_SCORE_ADJ,
    cgroups_path,
    with_cgroups_path,
    with_oom_score_adj,
    with_sandbox_cpu_shares,
    with_sysctls,
)
from domain.spec.seccomp import with_seccomp
from domain.spec.security import with_readonly_rootfs
from domain.spec.user import requested_user, with_supplemental_groups, with_user

HOST_RESOLV = "/etc/resolv.conf"


def with_hostname(hostname: str) -> Step:
    def step(spec: Spec) -> None:
        if hostname:
            spec["hostname"] = hostname
        else:
            spec.pop("hostname", None)

    return step


def image_name(image: Image) -> str:
    return image.repo_tags[0] if image.repo_tags else image.id


def shm_source(sandbox: Sandbox, node: NodeOptions) -> str:
    """The pod's /dev/shm: its own directory under the sandbox dir, or the host's for
    host IPC."""
    if sandbox.config.security.namespace_options.ipc == NamespaceMode.NODE:
        return DEV_SHM
    return sandbox_path(sandbox.id, node, SHM_DIR)


def resolv_source(sandbox: Sandbox, node: NodeOptions) -> str:
    """The pod's resolv.conf: the one written from its DNS config, else the host's for
    host network, else none (the image's own stays)."""
    if resolv_conf(sandbox.config.dns_config):
        return sandbox_path(sandbox.id, node, RESOLV_FILE)
    return HOST_RESOLV if sandbox.config.host_network else ""


def sandbox_steps(
    sandbox: Sandbox,
    image: Image,
    node: NodeOptions,
    seccomp_profile: Mapping[str, Any] | None = None,
) -> list[Step]:
    cfg = sandbox.config
    sec = cfg.security
    argv = [*image.config.entrypoint, *image.config.cmd]
    if not argv:
        raise InvalidArgument(f"sandbox image {image_name(image)} has no entrypoint or cmd")
    mounts = [bind(shm_source(sandbox, node), DEV_SHM, "rbind", "ro")]
    resolv = resolv_source(sandbox, node)
    if resolv:
        mounts.append(bind(resolv, ETC_RESOLV, "rbind", "ro"))
    return [
        without_run_mount,
        without_default_security_settings,
        with_env(image.config.env),
        with_readonly_rootfs(True),
        with_hostname("" if cfg.host_network else cfg.hostname),
        with_cwd(image.config.working_dir),
        with_args(argv),
        with_cgroups_path(cgroups_path(cfg.cgroup_parent, sandbox.id, node)),
        *sandbox_namespaces(sec.namespace_options, sandbox.netns_path),
        with_mounts(mounts),
        with_user(requested_user("", sec.run_as_user, sec.run_as_group, image.config.user)),
        with_supplemental_groups(sec.supplemental_groups),
        with_sysctls(cfg.sysctls),
        with_sandbox_cpu_shares,
        with_oom_score_adj(SANDBOX_OOM_SCORE_ADJ, node),
        with_seccomp(sec.seccomp, sec.privileged, node.arch, seccomp_profile),
        with_annotations(cfg.annotations),
        with_annotations(cri_annotations(sandbox.id, cfg, image_name(image))),
    ]


def sandbox_spec(
    sandbox: Sandbox,
    image: Image,
    node: NodeOptions,
    seccomp_profile: Mapping[str, Any] | None = None,
) -> Spec:
    """The pause container's OCI spec (`seccomp_profile`: see `container_spec`)."""
    return apply(default_spec(), sandbox_steps(sandbox, image, node, seccomp_profile))
