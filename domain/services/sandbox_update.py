"""UpdatePodSandboxResources: accepted and validated; nothing is applied yet."""

from __future__ import annotations

from dataclasses import dataclass

from domain.model import LinuxResources
from domain.services.unit_of_work import PodRepository
from domain.spec import NodeOptions
from domain.validation.resources import check_resources


@dataclass(frozen=True)
class SandboxUpdate:
    pods: PodRepository
    node: NodeOptions

    def update_pod_sandbox_resources(
        self,
        sandbox_id: str,
        overhead: LinuxResources | None = None,
        resources: LinuxResources | None = None,
    ) -> None:
        """The sandbox exists and the resources are sane; the pod cgroup's limits stay as
        the containers set them."""
        self.pods.sandboxes.get(sandbox_id)
        for field, value in (("overhead", overhead), ("resources", resources)):
            if value is not None:
                check_resources(field, value, self.node)
