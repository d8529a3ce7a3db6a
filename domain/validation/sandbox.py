"""RunPodSandbox's request, checked whole before anything is created."""

from __future__ import annotations

from collections.abc import Sequence

from domain.model import NamespaceMode, SandboxConfig
from domain.spec.node import NodeOptions
from domain.validation.identities import check_groups, check_id, check_user_namespace
from domain.validation.names import check_hostname, check_name
from domain.validation.network import check_dns, check_port_mappings
from domain.validation.paths import check_cgroup_parent, check_log_directory
from domain.validation.resources import check_resources
from domain.validation.security import check_runtime_handler
from domain.validation.sysctls import check_sysctls
from domain.validation.text import invalid


def check_sandbox(
    config: SandboxConfig, runtime_handler: str, handlers: Sequence[str], node: NodeOptions
) -> None:
    """InvalidArgument naming the first field of `config` no runtime would accept."""
    check_runtime_handler("runtime_handler", runtime_handler, handlers)
    m = config.metadata
    for field, value in (("name", m.name), ("namespace", m.namespace), ("uid", m.uid)):
        check_name(f"metadata.{field}", value, cni=True)
    if m.attempt < 0:
        raise invalid("metadata.attempt", m.attempt, "must not be negative")
    check_hostname("hostname", config.hostname)
    if config.hostname and config.host_network:
        raise invalid("hostname", config.hostname, "must be empty in a host-network pod")
    check_log_directory("log_directory", config.log_directory)
    check_dns("dns_config", config.dns_config)
    check_port_mappings("port_mappings", config.port_mappings)
    check_cgroup_parent(
        "linux.cgroup_parent", config.cgroup_parent, node.cgroup_driver == "systemd"
    )
    sec = config.security
    where = "linux.security_context"
    check_id(f"{where}.run_as_user", sec.run_as_user)
    check_id(f"{where}.run_as_group", sec.run_as_group)
    check_groups(f"{where}.supplemental_groups", sec.supplemental_groups)
    options = sec.namespace_options
    if options.pid == NamespaceMode.TARGET:
        raise invalid(f"{where}.namespace_options.pid", "TARGET", "is for containers only")
    check_user_namespace(f"{where}.namespace_options.userns_options", options.userns)
    check_sysctls(
        "linux.sysctls",
        config.sysctls,
        host_network=config.host_network,
        host_ipc=options.ipc == NamespaceMode.NODE,
    )
    for field, res in (("linux.overhead", config.overhead), ("linux.resources", config.resources)):
        if res is not None:
            check_resources(field, res, node)
