"""An application container's spec: containerd's containerSpec as a pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.errors import InvalidArgument
from domain.model import Container, Image, Mount, Sandbox
from domain.spec.annotations import cri_annotations, with_annotations
from domain.spec.capabilities import with_cri_capabilities, without_ambient_capabilities
from domain.spec.defaults import default_spec, without_default_security_settings
from domain.spec.devices import (
    HostDevices,
    with_all_devices_allowed,
    with_devices,
    with_host_devices,
)
from domain.spec.files import pod_hostname
from domain.spec.mounts import (
    DEV_SHM,
    ETC_HOSTNAME,
    ETC_HOSTS,
    ETC_RESOLV,
    has_mount,
    with_cri_mounts,
    without_run_mount,
)
from domain.spec.namespaces import container_namespaces, with_namespace
from domain.spec.node import HOSTNAME_FILE, HOSTS_FILE, NodeOptions, sandbox_path
from domain.spec.pipeline import Spec, Step, apply
from domain.spec.process import (
    container_env,
    with_cwd,
    with_env,
    with_no_new_privileges,
    with_process_args,
    with_terminal,
    working_dir,
)
from domain.spec.resources import (
    cgroups_path,
    with_cgroups_path,
    with_oom_score_adj,
    with_resources,
)
from domain.spec.sandbox import resolv_source, shm_source
from domain.spec.seccomp import with_seccomp
from domain.spec.security import (
    check_apparmor,
    with_cri_proc_paths,
    with_privileged,
    with_readonly_rootfs,
)
from domain.spec.user import requested_user, with_supplemental_groups, with_user


def pod_mounts(container: Container, sandbox: Sandbox, node: NodeOptions) -> list[Mount]:
    """containerd's containerMounts: the pod's hostname, hosts, resolv.conf and /dev/shm,
    each unless the CRI mounts already hold that path (kubelet mounts its own hosts)."""
    cfg = container.config
    ro = cfg.security.readonly_rootfs
    wanted = [
        (ETC_HOSTNAME, sandbox_path(sandbox.id, node, HOSTNAME_FILE), ro),
        (ETC_HOSTS, sandbox_path(sandbox.id, node, HOSTS_FILE), ro),
        (ETC_RESOLV, resolv_source(sandbox, node), ro),
        (DEV_SHM, shm_source(sandbox, node), False),
    ]
    return [
        Mount(container_path=dest, host_path=src, readonly=readonly)
        for dest, src, readonly in wanted
        if src and not has_mount(cfg.mounts, dest)
    ]


def security_steps(
    container: Container, sandbox: Sandbox, node: NodeOptions, devices: HostDevices
) -> list[Step]:
    sec = container.config.security
    check_apparmor(sec.apparmor, sec.privileged)
    if not sec.privileged:
        return [
            with_devices(container.config.devices, devices),
            with_cri_capabilities(sec.capabilities, node.capabilities),
        ]
    if not sandbox.config.security.privileged:
        raise InvalidArgument("no privileged container allowed in a non-privileged sandbox")
    return [
        with_privileged(node.capabilities),
        with_host_devices(devices),
        with_all_devices_allowed,
    ]


def container_steps(
    container: Container,
    sandbox: Sandbox,
    image: Image,
    node: NodeOptions,
    target_pid: int | None = None,
    devices: HostDevices | None = None,
    seccomp_profile: Mapping[str, Any] | None = None,
) -> list[Step]:
    cfg = container.config
    sec = cfg.security
    pod = sandbox.config
    steps: list[Step] = [
        without_run_mount,
        without_default_security_settings,
        with_process_args(cfg, image.config),
        with_env(container_env(cfg, image.config, pod_hostname(sandbox, node))),
        with_no_new_privileges(sec.no_new_privs),
        with_cwd(working_dir(cfg, image.config)),
        with_terminal(cfg.tty),
        with_cri_mounts(cfg.mounts, pod_mounts(container, sandbox, node)),
        with_cri_proc_paths(sec.masked_paths, sec.readonly_paths),
        *security_steps(container, sandbox, node, devices or {}),
        without_ambient_capabilities,
        with_readonly_rootfs(sec.readonly_rootfs),
        with_resources(cfg.resources, node),
        with_cgroups_path(cgroups_path(pod.cgroup_parent, container.id, node)),
        with_annotations(cfg.annotations),
        *container_namespaces(
            pod.security.namespace_options, sec.namespace_options, sandbox.pid, target_pid
        ),
        with_user(
            requested_user(
                sec.run_as_username, sec.run_as_user, sec.run_as_group, image.config.user
            )
        ),
        with_supplemental_groups(sec.supplemental_groups),
        with_seccomp(sec.seccomp, sec.privileged, node.arch, seccomp_profile),
        with_annotations(cri_annotations(sandbox.id, pod, cfg.image, cfg.metadata.name)),
    ]
    if cfg.resources is not None:
        steps.append(with_oom_score_adj(cfg.resources.oom_score_adj, node))
    if node.cgroup_v2 and not sec.privileged:
        steps.append(with_namespace("cgroup"))
    return steps


def container_spec(
    container: Container,
    sandbox: Sandbox,
    image: Image,
    node: NodeOptions,
    *,
    target_pid: int | None = None,
    devices: HostDevices | None = None,
    seccomp_profile: Mapping[str, Any] | None = None,
) -> Spec:
    """An application container's OCI spec.

    `target_pid` is the process of the container named by a TARGET PID namespace option;
    `devices` maps each CRI device's host path to its device nodes (see `devices`);
    `seccomp_profile` is the node's profile file a Localhost seccomp profile names.
    """
    steps = container_steps(container, sandbox, image, node, target_pid, devices, seccomp_profile)
    return apply(default_spec(), steps)
