"""CreateContainer's request, checked whole (against its pod) before anything is created."""

from __future__ import annotations

from domain.errors import InvalidArgument, Unimplemented
from domain.model import ContainerConfig, Mount, NamespaceMode, SandboxConfig
from domain.reference import parse
from domain.spec.node import NodeOptions
from domain.validation.identities import check_groups, check_id, check_username
from domain.validation.names import check_argv, check_env, check_exec_size, check_name
from domain.validation.paths import check_absolute, check_log_path, check_working_dir
from domain.validation.resources import check_resources
from domain.validation.security import check_capabilities, check_device_permissions
from domain.validation.text import check_plain, invalid


def _check_mount(field: str, mount: Mount) -> None:
    check_absolute(f"{field}.container_path", mount.container_path)
    if mount.image:
        try:
            parse(mount.image)
        except InvalidArgument as exc:
            raise invalid(f"{field}.image", mount.image, str(exc)) from None
        raise Unimplemented(f"{field}.image: image volumes are not supported by hexcri")
    check_absolute(f"{field}.host_path", mount.host_path)
    if mount.recursive_read_only:
        if not mount.readonly:
            raise invalid(f"{field}.recursive_read_only", True, "needs readonly too")
        raise Unimplemented(f"{field}.recursive_read_only: not supported by hexcri")


def check_container(config: ContainerConfig, pod: SandboxConfig, node: NodeOptions) -> None:
    """InvalidArgument naming the first field of `config` no runtime would accept."""
    check_name("metadata.name", config.metadata.name)
    if config.metadata.attempt < 0:
        raise invalid("metadata.attempt", config.metadata.attempt, "must not be negative")
    if not config.image:
        raise invalid("image.image", config.image, "must not be empty")
    check_plain("image.image", config.image, 4096)
    check_log_path("log_path", pod.log_directory, config.log_path)
    check_working_dir("working_dir", config.working_dir)
    size = check_argv("command", config.command) + check_argv("args", config.args)
    check_exec_size("command", size + check_env("envs", config.envs))
    for i, mount in enumerate(config.mounts):
        _check_mount(f"mounts[{i}]", mount)
    for i, device in enumerate(config.devices):
        check_absolute(f"devices[{i}].host_path", device.host_path)
        check_absolute(f"devices[{i}].container_path", device.container_path)
        check_device_permissions(f"devices[{i}].permissions", device.permissions)
    if config.resources is not None:
        check_resources("linux.resources", config.resources, node)
    sec = config.security
    where = "linux.security_context"
    check_capabilities(f"{where}.capabilities", sec.capabilities)
    check_id(f"{where}.run_as_user", sec.run_as_user)
    check_id(f"{where}.run_as_group", sec.run_as_group)
    check_username(f"{where}.run_as_username", sec.run_as_username)
    check_groups(f"{where}.supplemental_groups", sec.supplemental_groups)
    for kind, paths in (("masked_paths", sec.masked_paths), ("readonly_paths", sec.readonly_paths)):
        for i, path in enumerate(paths):
            check_absolute(f"{where}.{kind}[{i}]", path)
    options = sec.namespace_options
    if options.pid == NamespaceMode.TARGET and not options.target_id:
        raise invalid(f"{where}.namespace_options.target_id", "", "is needed for pid TARGET")
    if options.userns is not None and options.userns != pod.security.namespace_options.userns:
        raise invalid(
            f"{where}.namespace_options.userns_options", "", "must be the pod's user namespace"
        )
