"""Configuration: a TOML file (default /etc/hexcri/config.toml) with HEXCRI_* env overrides."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from domain.logformat import MAX_RECORD
from domain.services.settings import Settings as DomainSettings

DEFAULT_CONFIG = "/etc/hexcri/config.toml"
CONFIG_ENV = "HEXCRI_CONFIG"
# The defaults of what the domain also knows are the domain's own: one definition each.
DOMAIN = DomainSettings()


class ContainerdSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = "/run/containerd/containerd.sock"
    namespace: str = "k8s.io"  # containerd's CRI namespace; pods' cgroups go under /<namespace>
    root: str = "/var/lib/containerd"  # containerd's root: where its snapshotter keeps layers
    snapshotter: str = "overlayfs"
    runtime: str = "io.containerd.runc.v2"


class CniSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bin_dirs: list[str] = ["/opt/cni/bin", "/usr/lib/cni"]
    conf_dir: str = "/etc/cni/net.d"
    cache_dir: str = "/var/lib/cni"
    netns_dir: str = "/var/run/netns"
    plugin_timeout: float = 60.0


class RegistrySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config_path: str = "/etc/containerd/certs.d"
    max_concurrent_downloads: int = 3
    no_progress_timeout: float = 300.0


class Settings(BaseSettings):
    """Every setting hexcri reads; `hexcri config show` prints the effective values."""

    model_config = SettingsConfigDict(
        env_prefix="HEXCRI_", env_nested_delimiter="__", extra="forbid"
    )

    socket: str = "/run/hexcri/hexcri.sock"
    backend: Literal["memory", "containerd"] = "containerd"
    sandbox_image: str = DOMAIN.sandbox_image
    root_dir: str = "/var/lib/hexcri"
    state_dir: str = "/run/hexcri"
    streaming_address: str = "127.0.0.1:0"
    log_level: str = "INFO"
    # "text" (one line, the RPC's fields in brackets) or "json" (one object a line)
    log_format: Literal["text", "json"] = "text"
    # host:port of the Prometheus /metrics endpoint; "" (the default): no endpoint
    metrics_address: str = ""
    cgroup_driver: Literal["cgroupfs", "systemd"] = DOMAIN.node.cgroup_driver
    # None: detect whether this process may lower oom_score_adj (containerd's
    # restrict_oom_score_adj); true/false forces it.
    restrict_oom_score_adj: bool | None = None
    stop_kill_wait: float = DOMAIN.stop_kill_wait
    # bytes of a log record: longer lines are cut into partial records (<= 0: no limit)
    max_container_log_line_size: int = MAX_RECORD
    # the memory backend's images: None pulls any well-formed reference (a generic image);
    # a list is a closed catalogue, and other references are NotFound
    simulator_images: list[str] | None = None
    # static pods: a directory of Kubernetes Pod manifests kept running ("" = off), and the
    # directory of their container logs (kubelet's /var/log/pods layout)
    manifest_dir: str = ""
    manifest_log_dir: str = "/var/log/pods"
    containerd: ContainerdSettings = ContainerdSettings()
    cni: CniSettings = CniSettings()
    registry: RegistrySettings = RegistrySettings()

    @field_validator("metrics_address")
    @classmethod
    def _host_port(cls, value: str) -> str:
        _, sep, port = value.rpartition(":")
        if value and not (sep and port.isdigit() and int(port) < 65536):
            raise ValueError('expected host:port, e.g. 127.0.0.1:9464 (or "" for no endpoint)')
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = os.environ.get(CONFIG_ENV, DEFAULT_CONFIG)
        toml = TomlConfigSettingsSource(settings_cls, toml_file=path if Path(path).exists() else [])
        return (init_settings, env_settings, toml)


class ConfigError(ValueError):
    """A setting that cannot be used, named by its file (or variable) and key."""


def _problem(path: str, error: dict[str, object]) -> str:
    loc = [str(part) for part in error["loc"]]  # type: ignore[attr-defined]
    key = ".".join(loc)
    variable = "HEXCRI_" + "__".join(loc).upper()
    where = f"environment {variable}" if variable in os.environ else path
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        message = "unknown key (see docs/configuration.md for the keys hexcri reads)"
    return f"{where}: key {key}: {message}"


def load(config_path: str | None = None) -> Settings:
    """Settings from `config_path` (or $HEXCRI_CONFIG, or the default file) and the env.

    Raises FileNotFoundError for a missing `config_path` and ConfigError naming the file (or
    environment variable) and key of each bad setting.
    """
    if config_path is not None:
        if not Path(config_path).exists():
            raise FileNotFoundError(f"config file {config_path} does not exist")
        os.environ[CONFIG_ENV] = config_path
    path = os.environ.get(CONFIG_ENV, DEFAULT_CONFIG)
    try:
        return Settings()
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        problems = [_problem(path, dict(e)) for e in exc.errors()]
        raise ConfigError("; ".join(problems)) from exc
