"""Running planned pods on the domain's use cases, as kubelet's pod workers do.

`PodRunner.step` moves one pod one step towards its spec: a sandbox, then each init container
to completion in order, then the app containers, restarting exited ones by the restart policy
with kubelet's back-off. It only reads the stores and calls use cases, so it is safe to call
again at any time (after a crash too: pods are found by their kubelet labels).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from adapters.manifest.backoff import Backoff
from adapters.manifest.convert import (
    CONFIG_HASH,
    CONTAINER_NAME,
    MANIFEST_FILE,
    POD_UID,
    PodPlan,
    runs_as_non_root,
)
from adapters.manifest.models import Container as ContainerSpec
from domain.errors import FailedPrecondition, HexcriError, NotFound
from domain.model import Container, ContainerState, Image, Sandbox, SandboxState
from domain.services.usecases import UseCases

log = logging.getLogger("hexcri.manifest")

# who manages a pod: the static pod reconciler or a `hexcri play`
OWNER = "io.hexcri.manifest.owner"

Report = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class PodRunner:
    """Moves pods towards their plans through the domain's use cases."""

    uses: UseCases
    owner: str = "static"
    report: Report = _quiet
    backoff: Backoff = field(default_factory=Backoff)
    # sandbox ID -> volume name -> host path, made once per sandbox
    _volumes: dict[str, dict[str, str]] = field(default_factory=dict)

    # --- finding pods -------------------------------------------------------------------------

    def owned(self) -> list[Sandbox]:
        """Every sandbox this owner made (found by its annotations after a restart too)."""
        return [
            s
            for s in self.uses.sandbox_query.list_pod_sandboxes()
            if MANIFEST_FILE in s.config.annotations
            and s.config.annotations.get(OWNER, "static") == self.owner
        ]

    def sandboxes_of(self, uid: str) -> list[Sandbox]:
        found = [s for s in self.owned() if s.config.labels.get(POD_UID) == uid]
        return sorted(found, key=lambda s: s.config.metadata.attempt)

    def of_file(self, source: str) -> list[Sandbox]:
        return [s for s in self.owned() if s.config.annotations.get(MANIFEST_FILE) == source]

    def latest(self, sandbox: Sandbox) -> dict[str, Container]:
        """Each container name's most recent attempt."""
        latest: dict[str, Container] = {}
        for c in self.uses.container_query.containers_of(sandbox.id):
            name = c.config.labels.get(CONTAINER_NAME, c.config.metadata.name)
            held = latest.get(name)
            if held is None or c.config.metadata.attempt > held.config.metadata.attempt:
                latest[name] = c
        return latest

    # --- pods ---------------------------------------------------------------------------------

    async def ensure(self, plan: PodPlan) -> Sandbox:
        """The pod's ready sandbox of this spec: others of its uid (an old spec, a dead
        sandbox) are removed first, and a new one is made when none is left."""
        current: Sandbox | None = None
        attempt = 0
        for sandbox in self.sandboxes_of(plan.uid):
            attempt = max(attempt, sandbox.config.metadata.attempt + 1)
            same = sandbox.config.annotations.get(CONFIG_HASH) == plan.hash
            if same and sandbox.state == SandboxState.READY and current is None:
                current = sandbox
                continue
            why = "its manifest changed" if not same else "its sandbox is not ready"
            self.report(f"pod {plan.namespace}/{plan.name}: replacing it, {why}")
            await self.remove(sandbox)
        if current is not None:
            return current
        config = plan.sandbox.model_copy(
            update={
                "metadata": plan.sandbox.metadata.model_copy(update={"attempt": attempt}),
                "annotations": {**plan.sandbox.annotations, OWNER: self.owner},
            }
        )
        sandbox_id = await self.uses.sandbox_run.run_pod_sandbox(config)
        sandbox = self.uses.sandbox_query.pod_sandbox_status(sandbox_id)
        ip = sandbox.ips[0] if sandbox.ips else "host network"
        self.report(f"pod {plan.namespace}/{plan.name}: sandbox {sandbox.id[:13]} ready, IP {ip}")
        return sandbox

    async def volume_paths(self, plan: PodPlan, sandbox: Sandbox) -> dict[str, str]:
        paths = self._volumes.get(sandbox.id)
        if paths is not None:
            return paths
        files = self.uses.pod_volumes
        paths = {}
        for volume in plan.volumes:
            if volume.kind == "hostPath":
                await files.check_host_path(volume.host_path, volume.host_type)
                paths[volume.name] = volume.host_path
            else:
                paths[volume.name] = await files.write_volume(
                    sandbox.id, volume.name, volume.files, volume.memory
                )
        self._volumes[sandbox.id] = paths
        return paths

    async def remove(self, sandbox: Sandbox, grace: int | None = None) -> None:
        """Stop the containers within the grace period, then remove the pod and its logs."""
        if grace is None:
            grace = _grace(self.uses, sandbox)
        running = [
            c
            for c in self.uses.container_query.containers_of(sandbox.id)
            if c.state == ContainerState.RUNNING
        ]
        await asyncio.gather(
            *(self.uses.container_stop.stop_container(c.id, grace) for c in running)
        )
        await self.uses.sandbox_stop.stop_pod_sandbox(sandbox.id)
        await self.uses.sandbox_remove.remove_pod_sandbox(sandbox.id)
        await self.uses.pod_volumes.remove_log_dir(sandbox.config.log_directory)
        self._volumes.pop(sandbox.id, None)
        self.backoff.forget(f"{sandbox.config.labels.get(POD_UID, '')}/")
        m = sandbox.config.metadata
        self.report(f"pod {m.namespace}/{m.name}: removed")

    # --- containers ---------------------------------------------------------------------------

    async def step(self, plan: PodPlan, sandbox: Sandbox) -> str:
        """One step of the pod's containers; returns the pod's phase (Pending, Running,
        Succeeded, Failed) as far as this step can tell."""
        latest = self.latest(sandbox)
        spec = plan.pod.spec
        for container in spec.init_containers:
            held = latest.get(container.name)
            if held is None:
                await self.start(plan, sandbox, container, 0)
                return "Pending"
            if held.state != ContainerState.EXITED:
                if held.state == ContainerState.CREATED:
                    await self._start(held)
                return "Pending"
            if held.exit_code == 0:
                continue
            if spec.restart_policy == "Never":
                return "Failed"
            await self.maybe_restart(plan, sandbox, container, held)
            return "Pending"
        phases = []
        for container in spec.containers:
            held = latest.get(container.name)
            if held is None:
                await self.start(plan, sandbox, container, 0)
                phases.append("Running")
            elif held.state == ContainerState.CREATED:
                await self._start(held)
                phases.append("Running")
            elif held.state != ContainerState.EXITED:
                phases.append("Running")
            elif _restarts(spec.restart_policy, held.exit_code):
                await self.maybe_restart(plan, sandbox, container, held)
                phases.append("Running")
            else:
                phases.append("Succeeded" if held.exit_code == 0 else "Failed")
        if "Running" in phases:
            return "Running"
        return "Failed" if "Failed" in phases else "Succeeded"

    async def maybe_restart(
        self, plan: PodPlan, sandbox: Sandbox, spec: ContainerSpec, held: Container
    ) -> None:
        key = f"{plan.uid}/{spec.name}"
        now = self.uses.sandbox_query.now()
        ran = max(0, held.finished_at - held.started_at) if held.started_at else 0
        self.backoff.seed(key, held.config.metadata.attempt, held.created_at)
        if self.backoff.remaining(key, held.finished_at, ran, now):
            return
        self.backoff.restarted(key, ran, now)
        attempt = held.config.metadata.attempt + 1
        self.report(
            f"pod {plan.namespace}/{plan.name}: restarting {spec.name} "
            f"(exit {held.exit_code}, restart {attempt})"
        )
        await self.start(plan, sandbox, spec, attempt)
        # kubelet keeps the last dead container for its logs and status; older ones go
        for c in self.uses.container_query.containers_of(sandbox.id):
            same = c.config.labels.get(CONTAINER_NAME) == spec.name
            if same and c.config.metadata.attempt < attempt - 1:
                await self.uses.container_remove.remove_container(c.id)

    async def start(
        self, plan: PodPlan, sandbox: Sandbox, spec: ContainerSpec, attempt: int
    ) -> str:
        """Pull by the pull policy, create and start attempt `attempt` of a container."""
        image = await self.image(spec)
        if runs_as_non_root(plan.pod, spec):
            _check_non_root(plan, spec, image)
        paths = await self.volume_paths(plan, sandbox)
        for mount in spec.volume_mounts:  # a symlink a container left must not lead out
            if mount.sub_path:
                await self.uses.pod_volumes.check_sub_path(paths[mount.name], mount.sub_path)
        config = plan.container_config(spec, attempt, sandbox.ips[0] if sandbox.ips else "", paths)
        container_id = await self.uses.container_create.create_container(sandbox.id, config)
        await self._start(self.uses.container_query.container_status(container_id))
        self.report(
            f"pod {plan.namespace}/{plan.name}: container {spec.name} started ({container_id[:13]})"
        )
        return container_id

    async def _start(self, container: Container) -> None:
        try:
            await self.uses.container_start.start_container(container.id)
        except HexcriError as exc:  # recorded as a StartError exit: restarted with back-off
            log.warning("container %s did not start: %s", container.config.metadata.name, exc)

    async def image(self, spec: ContainerSpec) -> Image:
        policy = spec.pull_policy()
        if policy == "Never":
            found = self.uses.image_query.resolve(spec.image)
            if found is None:
                raise NotFound(f"image {spec.image!r} is not present and imagePullPolicy is Never")
            return found
        if policy == "IfNotPresent":
            found = self.uses.image_query.resolve(spec.image)
            if found is not None:
                return found
        self.report(f"pulling {spec.image}")
        try:
            image_id = await self.uses.image_pull.pull_image(spec.image)
        except BaseException as exc:
            self.report(f"pull of {spec.image} failed: {exc}")
            raise
        self.report(f"pulled {spec.image} ({image_id[:19]})")
        return await self.uses.image_pull.ensure_image(image_id)


def _restarts(policy: str, exit_code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


def _grace(uses: UseCases, sandbox: Sandbox) -> int:
    for c in uses.container_query.containers_of(sandbox.id):
        value = c.config.annotations.get("io.kubernetes.pod.terminationGracePeriod", "")
        if value.isdigit():
            return int(value)
    return 30


def _check_non_root(plan: PodPlan, spec: ContainerSpec, image: Image) -> None:
    """kubelet's verifyRunAsNonRoot: the user must be known and not root."""
    sc, pod_sc = spec.security_context, plan.pod.spec.security_context
    uid = sc.run_as_user if sc.run_as_user is not None else pod_sc.run_as_user
    if uid is None:
        if image.username:
            raise FailedPrecondition(
                f"container {spec.name}: runAsNonRoot and the image has a non-numeric user "
                f"({image.username}), cannot verify it is not root"
            )
        uid = image.uid or 0
    if uid == 0:
        raise FailedPrecondition(f"container {spec.name}: runAsNonRoot and the image runs as root")
