"""Small builders of domain objects for the spec tests."""

from __future__ import annotations

from typing import Any

from domain.model import (
    Container,
    ContainerConfig,
    ContainerMetadata,
    ContainerSecurity,
    Image,
    ImageConfig,
    NamespaceMode,
    NamespaceOptions,
    Sandbox,
    SandboxConfig,
    SandboxMetadata,
    SandboxSecurity,
)
from domain.spec import NodeOptions

SANDBOX_ID = "a" * 64
CONTAINER_ID = "b" * 64
NODE = NodeOptions(sandbox_root="/run/hexcri/sandboxes", hostname="node1")


def pod_config(*, host_network: bool = False, host_ipc: bool = False, **kw: Any) -> SandboxConfig:
    ns = NamespaceOptions(
        network=NamespaceMode.NODE if host_network else NamespaceMode.POD,
        ipc=NamespaceMode.NODE if host_ipc else NamespaceMode.POD,
        pid=kw.pop("pid", NamespaceMode.CONTAINER),
    )
    security = SandboxSecurity(namespace_options=ns, privileged=kw.pop("privileged", False))
    kw.setdefault("metadata", SandboxMetadata(name="web", uid="uid-1", namespace="default"))
    return SandboxConfig(security=security, **kw)


def sandbox(config: SandboxConfig | None = None, **kw: Any) -> Sandbox:
    cfg = config or pod_config()
    kw.setdefault("netns_path", "" if cfg.host_network else "/var/run/netns/cni-1")
    kw.setdefault("pid", 4242)
    return Sandbox(id=SANDBOX_ID, config=cfg, **kw)


def container(security: ContainerSecurity | None = None, **kw: Any) -> Container:
    kw.setdefault("metadata", ContainerMetadata(name="app"))
    kw.setdefault("image", "docker.io/library/busybox:latest")
    cfg = ContainerConfig(security=security or ContainerSecurity(), **kw)
    return Container(id=CONTAINER_ID, sandbox_id=SANDBOX_ID, config=cfg)


def image(**kw: Any) -> Image:
    kw.setdefault("cmd", ("sh",))
    kw.setdefault("env", ("PATH=/usr/bin:/bin",))
    return Image(id="sha256:" + "c" * 64, repo_tags=("busybox:latest",), config=ImageConfig(**kw))


PAUSE = Image(
    id="sha256:" + "d" * 64,
    repo_tags=("registry.k8s.io/pause:3.9",),
    config=ImageConfig(entrypoint=("/pause",)),
)


def mount_destinations(spec: dict[str, Any]) -> list[str]:
    return [m["destination"] for m in spec["mounts"]]


def mount_at(spec: dict[str, Any], destination: str) -> dict[str, Any]:
    (found,) = [m for m in spec["mounts"] if m["destination"] == destination]
    return found


def namespaces(spec: dict[str, Any]) -> dict[str, str]:
    return {n["type"]: n.get("path", "") for n in spec["linux"]["namespaces"]}
