"""The `io.kubernetes.cri.*` annotations containerd's CRI puts on every spec."""

from __future__ import annotations

from collections.abc import Mapping

from domain.model import SandboxConfig
from domain.spec.pipeline import Spec, Step, spec_annotations

CONTAINER_TYPE = "io.kubernetes.cri.container-type"
CONTAINER_TYPE_SANDBOX = "sandbox"
CONTAINER_TYPE_CONTAINER = "container"
SANDBOX_ID = "io.kubernetes.cri.sandbox-id"
SANDBOX_NAME = "io.kubernetes.cri.sandbox-name"
SANDBOX_NAMESPACE = "io.kubernetes.cri.sandbox-namespace"
SANDBOX_UID = "io.kubernetes.cri.sandbox-uid"
SANDBOX_LOG_DIR = "io.kubernetes.cri.sandbox-log-directory"
CONTAINER_NAME = "io.kubernetes.cri.container-name"
IMAGE_NAME = "io.kubernetes.cri.image-name"


def with_annotations(values: Mapping[str, str]) -> Step:
    """Add annotations, overwriting those with the same key."""
    items = dict(values)

    def step(spec: Spec) -> None:
        spec_annotations(spec).update(items)

    return step


def cri_annotations(
    sandbox_id: str,
    pod: SandboxConfig,
    image_name: str,
    container_name: str | None = None,
) -> dict[str, str]:
    """The CRI annotations of a sandbox (`container_name` None) or of a container."""
    m = pod.metadata
    values = {
        SANDBOX_ID: sandbox_id,
        SANDBOX_NAMESPACE: m.namespace,
        SANDBOX_UID: m.uid,
        SANDBOX_NAME: m.name,
        IMAGE_NAME: image_name,
    }
    if container_name is None:
        values[SANDBOX_LOG_DIR] = pod.log_directory
        values[CONTAINER_TYPE] = CONTAINER_TYPE_SANDBOX
    else:
        values[CONTAINER_NAME] = container_name
        values[CONTAINER_TYPE] = CONTAINER_TYPE_CONTAINER
    return values
