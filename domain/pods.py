"""What several use cases derive from a pod the same way: the labels that mark hexcri's
runtime containers, a sandbox's network request, a container's log path."""

from __future__ import annotations

from domain.model import ContainerConfig, Sandbox
from domain.validation.paths import effective_log_path
from ports.network import PodNetworkRequest

KIND_LABEL = "io.hexcri.kind"  # "sandbox" or "container": a runtime container hexcri made
SANDBOX_ID_LABEL = "io.hexcri.sandbox-id"


def network_request(sandbox: Sandbox) -> PodNetworkRequest:
    """What the pod network needs to set up or tear down `sandbox`'s network."""
    m = sandbox.config.metadata
    return PodNetworkRequest(
        sandbox_id=sandbox.id,
        netns_path=sandbox.netns_path,
        pod_name=m.name,
        pod_namespace=m.namespace,
        pod_uid=m.uid,
        port_mappings=sandbox.config.port_mappings,
        dns=sandbox.config.dns_config,
        annotations=sandbox.config.annotations,
    )


def log_path(config: ContainerConfig, sandbox: Sandbox) -> str:
    """The absolute log path kubelet asked for (relative to the sandbox's log directory);
    none ("") when the pod has no log directory, as in containerd."""
    return effective_log_path(sandbox.config.log_directory, config.log_path)
