"""The subset of Kubernetes v1 objects hexcri runs: Pod, ConfigMap, Secret.

Field names are the API's (camelCase aliases); every model forbids extra fields, so a field
hexcri does not support is an error naming its path, never silently ignored.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from adapters.manifest.quantity import parse_quantity

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


class K8s(BaseModel):
    """Base: the API's camelCase names, unknown fields rejected, values frozen."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=False
    )


def _dns_label(value: str) -> str:
    if len(value) > 63 or not DNS_LABEL.match(value):
        raise ValueError(f"{value!r} is not a DNS label (lower case alphanumerics and '-')")
    return value


def _dns_subdomain(value: str) -> str:
    if len(value) > 253 or not DNS_SUBDOMAIN.match(value):
        raise ValueError(f"{value!r} is not a DNS subdomain (lower case alphanumerics, '-', '.')")
    return value


class ObjectMeta(K8s):
    name: str
    namespace: str = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    _name = field_validator("name")(_dns_subdomain)
    _namespace = field_validator("namespace")(_dns_label)


class ObjectFieldSelector(K8s):
    field_path: Literal["metadata.name", "metadata.namespace", "metadata.uid", "status.podIP"]
    api_version: Literal["v1"] = "v1"


class EnvVarSource(K8s):
    field_ref: ObjectFieldSelector


class EnvVar(K8s):
    name: str
    value: str = ""
    value_from: EnvVarSource | None = None

    @field_validator("name")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not a valid environment variable name")
        return value


class ContainerPort(K8s):
    container_port: int = Field(ge=1, le=65535)
    host_port: int = Field(default=0, ge=0, le=65535)
    host_ip: str = Field(default="", alias="hostIP")
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    name: str = ""


class VolumeMount(K8s):
    name: str
    mount_path: str
    read_only: bool = False
    sub_path: str = ""

    @field_validator("mount_path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"{value!r} must be an absolute path")
        return value

    @field_validator("sub_path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError(f"{value!r} must be a relative path without '..'")
        return value


Quantity = str | int | float


def _quantities(value: dict[str, Quantity]) -> dict[str, Quantity]:
    for amount in value.values():
        parse_quantity(amount)
    return value


class ResourceRequirements(K8s):
    requests: dict[Literal["cpu", "memory"], Quantity] = Field(default_factory=dict)
    limits: dict[Literal["cpu", "memory"], Quantity] = Field(default_factory=dict)

    _requests = field_validator("requests", "limits")(_quantities)


class Capabilities(K8s):
    add: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()


class SeccompProfile(K8s):
    type: Literal["RuntimeDefault", "Unconfined", "Localhost"]
    localhost_profile: str = ""


class SecurityContext(K8s):
    run_as_user: int | None = Field(default=None, ge=0)
    run_as_group: int | None = Field(default=None, ge=0)
    run_as_non_root: bool | None = None
    read_only_root_filesystem: bool = False
    privileged: bool = False
    capabilities: Capabilities = Capabilities()
    allow_privilege_escalation: bool | None = None
    seccomp_profile: SeccompProfile | None = None


class Sysctl(K8s):
    name: str
    value: str


class PodSecurityContext(K8s):
    run_as_user: int | None = Field(default=None, ge=0)
    run_as_group: int | None = Field(default=None, ge=0)
    run_as_non_root: bool | None = None
    supplemental_groups: tuple[int, ...] = ()
    seccomp_profile: SeccompProfile | None = None
    sysctls: tuple[Sysctl, ...] = ()


class Container(K8s):
    name: str
    image: str = Field(min_length=1)
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[EnvVar, ...] = ()
    working_dir: str = ""
    ports: tuple[ContainerPort, ...] = ()
    volume_mounts: tuple[VolumeMount, ...] = ()
    resources: ResourceRequirements = ResourceRequirements()
    security_context: SecurityContext = SecurityContext()
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False

    _name = field_validator("name")(_dns_label)

    def pull_policy(self) -> str:
        """The API's default: Always for `:latest` or no tag, else IfNotPresent."""
        if self.image_pull_policy:
            return self.image_pull_policy
        last = self.image.rsplit("/", 1)[-1]
        if "@" in last:
            return "IfNotPresent"
        tag = last.partition(":")[2]
        return "Always" if tag in ("", "latest") else "IfNotPresent"


class EmptyDirVolume(K8s):
    medium: Literal["", "Memory"] = ""
    size_limit: Quantity | None = None

    @field_validator("size_limit")
    @classmethod
    def _size(cls, value: Quantity | None) -> Quantity | None:
        if value is not None:
            parse_quantity(value)
        return value


HostPathType = Literal[
    "", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice",
    "BlockDevice",
]  # fmt: skip


class HostPathVolume(K8s):
    path: str
    type: HostPathType = ""

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"{value!r} must be an absolute path")
        return value


class KeyToPath(K8s):
    key: str
    path: str
    mode: int | None = Field(default=None, ge=0, le=0o777)

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if not value or value.startswith("/") or ".." in value.split("/"):
            raise ValueError(f"{value!r} must be a relative path without '..'")
        return value


class ConfigMapVolume(K8s):
    name: str
    items: tuple[KeyToPath, ...] = ()
    default_mode: int = Field(default=0o644, ge=0, le=0o777)
    optional: bool = False


class SecretVolume(K8s):
    secret_name: str
    items: tuple[KeyToPath, ...] = ()
    default_mode: int = Field(default=0o644, ge=0, le=0o777)
    optional: bool = False


class Volume(K8s):
    name: str
    empty_dir: EmptyDirVolume | None = None
    host_path: HostPathVolume | None = None
    config_map: ConfigMapVolume | None = None
    secret: SecretVolume | None = None

    _name = field_validator("name")(_dns_label)

    def sources(self) -> list[str]:
        return [
            alias
            for alias, value in (
                ("emptyDir", self.empty_dir),
                ("hostPath", self.host_path),
                ("configMap", self.config_map),
                ("secret", self.secret),
            )
            if value is not None
        ]


class PodDNSConfigOption(K8s):
    """A resolv.conf option (`ndots:2`, `edns0`): one word, nothing that could end the line."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)
    value: str | None = Field(default=None, pattern=r"^[^\s:]*$", max_length=64)


class PodDNSConfig(K8s):
    nameservers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[PodDNSConfigOption, ...] = ()


class PodSpec(K8s):
    containers: tuple[Container, ...] = Field(min_length=1)
    init_containers: tuple[Container, ...] = ()
    volumes: tuple[Volume, ...] = ()
    restart_policy: Literal["Always", "OnFailure", "Never"] = "Always"
    termination_grace_period_seconds: int = Field(default=30, ge=0)
    host_network: bool = False
    host_pid: bool = Field(default=False, alias="hostPID")
    host_ipc: bool = Field(default=False, alias="hostIPC")
    share_process_namespace: bool = False
    hostname: str = ""
    subdomain: str = ""
    dns_policy: Literal["ClusterFirst", "Default", "None"] = "ClusterFirst"
    dns_config: PodDNSConfig | None = None
    security_context: PodSecurityContext = PodSecurityContext()

    @field_validator("hostname", "subdomain")
    @classmethod
    def _label(cls, value: str) -> str:
        return _dns_label(value) if value else value


class Pod(K8s):
    api_version: Literal["v1"]
    kind: Literal["Pod"]
    metadata: ObjectMeta
    spec: PodSpec


class ConfigMap(K8s):
    api_version: Literal["v1"]
    kind: Literal["ConfigMap"]
    metadata: ObjectMeta
    data: dict[str, str] = Field(default_factory=dict)
    binary_data: dict[str, str] = Field(default_factory=dict)
    immutable: bool = False


class Secret(K8s):
    api_version: Literal["v1"]
    kind: Literal["Secret"]
    metadata: ObjectMeta
    type: str = "Opaque"
    data: dict[str, str] = Field(default_factory=dict)
    string_data: dict[str, str] = Field(default_factory=dict)
    immutable: bool = False
