"""OCI runtime spec generation: CRI config + image config -> OCI spec, as pure functions."""

from __future__ import annotations

from typing import Any

from domain.model import Container, Frozen, Image, Sandbox


class NodeOptions(Frozen):
    """Node-wide settings the spec generator needs."""

    sandbox_root: str = "/var/lib/hexcri/sandboxes"
    # Lowest oom_score_adj this process may set; None when lowering is permitted.
    min_oom_score_adj: int | None = None


def sandbox_dir(sandbox_id: str, node: NodeOptions) -> str:
    return f"{node.sandbox_root}/{sandbox_id}"


def sandbox_files(sandbox: Sandbox) -> dict[str, str]:
    """The pod's hostname, hosts and resolv.conf file contents, by file name."""
    hostname = sandbox.config.hostname
    files = {"hostname": f"{hostname}\n" if hostname else ""}
    files["hosts"] = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    dns = sandbox.config.dns_config
    if dns is not None:
        lines = [f"nameserver {s}" for s in dns.servers]
        if dns.searches:
            lines.append("search " + " ".join(dns.searches))
        if dns.options:
            lines.append("options " + " ".join(dns.options))
        files["resolv.conf"] = "\n".join(lines) + "\n"
    return files


def sandbox_spec(sandbox: Sandbox, image: Image, node: NodeOptions) -> dict[str, Any]:
    """The pause container's OCI spec."""
    args = [*image.config.entrypoint, *image.config.cmd] or ["/pause"]
    return {
        "ociVersion": "1.0.2",
        "process": {"args": args, "cwd": "/", "env": list(image.config.env)},
        "root": {"path": "rootfs", "readonly": True},
        "hostname": sandbox.config.hostname,
        "annotations": {"io.kubernetes.cri.container-type": "sandbox"},
    }


def container_spec(
    container: Container, sandbox: Sandbox, image: Image, node: NodeOptions
) -> dict[str, Any]:
    """An application container's OCI spec."""
    cfg = container.config
    args = [
        *(cfg.command or image.config.entrypoint),
        *(cfg.args or ([] if cfg.command else image.config.cmd)),
    ]
    env = [*image.config.env, *(f"{kv.key}={kv.value}" for kv in cfg.envs)]
    return {
        "ociVersion": "1.0.2",
        "process": {
            "args": args,
            "cwd": cfg.working_dir or image.config.working_dir or "/",
            "env": env,
            "terminal": cfg.tty,
        },
        "root": {"path": "rootfs", "readonly": cfg.security.readonly_rootfs},
        "annotations": {
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.sandbox-id": sandbox.id,
        },
    }
