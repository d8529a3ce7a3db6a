"""Every use case, as the inbound adapters (CRI, streaming, manifests, CLI) receive them."""

from __future__ import annotations

from dataclasses import dataclass

from domain.services.container_create import ContainerCreate
from domain.services.container_exec import ContainerExec
from domain.services.container_query import ContainerQuery
from domain.services.container_remove import ContainerRemove
from domain.services.container_start import ContainerStart
from domain.services.container_stop import ContainerStop
from domain.services.container_stream import ContainerStream
from domain.services.container_update import ContainerUpdate
from domain.services.exits import Exits
from domain.services.image_pull import ImagePull
from domain.services.image_query import ImageQuery
from domain.services.image_remove import ImageRemove
from domain.services.pod_volumes import PodVolumes
from domain.services.recovery import Recovery
from domain.services.runtime_info import RuntimeInfo
from domain.services.sandbox_query import SandboxQuery
from domain.services.sandbox_remove import SandboxRemove
from domain.services.sandbox_run import SandboxRun
from domain.services.sandbox_stop import SandboxStop
from domain.services.sandbox_update import SandboxUpdate


@dataclass(frozen=True)
class UseCases:
    """One instance of each use case, named after its module."""

    sandbox_run: SandboxRun
    sandbox_stop: SandboxStop
    sandbox_remove: SandboxRemove
    sandbox_update: SandboxUpdate
    sandbox_query: SandboxQuery
    container_create: ContainerCreate
    container_start: ContainerStart
    container_stop: ContainerStop
    container_remove: ContainerRemove
    container_update: ContainerUpdate
    container_query: ContainerQuery
    container_exec: ContainerExec
    container_stream: ContainerStream
    image_pull: ImagePull
    image_query: ImageQuery
    image_remove: ImageRemove
    runtime_info: RuntimeInfo
    task_exits: Exits
    recovery: Recovery
    pod_volumes: PodVolumes
