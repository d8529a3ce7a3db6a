"""RunPodSandbox: network namespace, then CNI beside the pause container's creation (its
task is made in the namespace while the plugins configure it), started and committed last."""

from __future__ import annotations

from dataclasses import dataclass

from domain.ids import new_id
from domain.model import Image, NamespaceMode, Sandbox, SandboxConfig
from domain.pods import KIND_LABEL, network_request
from domain.services.concurrency import both
from domain.services.image_pull import ImagePull
from domain.services.profiles import seccomp_profile
from domain.services.settings import Settings
from domain.services.unit_of_work import PodRepository, UnitOfWork
from domain.spec import sandbox_files, sandbox_spec
from domain.validation.sandbox import check_sandbox
from ports.clock import Clock
from ports.files import SandboxFiles
from ports.network import NetworkNamespaces, PodNetwork
from ports.profiles import SecurityProfiles
from ports.runtime import ContainerRuntime, CreateRequest


@dataclass(frozen=True)
class SandboxRun:
    pods: PodRepository
    runtime: ContainerRuntime
    netns: NetworkNamespaces
    network: PodNetwork
    files: SandboxFiles
    profiles: SecurityProfiles
    pull: ImagePull
    clock: Clock
    settings: Settings

    async def run_pod_sandbox(self, config: SandboxConfig, runtime_handler: str = "") -> str:
        """Create and start a pod sandbox; returns its ID. On failure nothing is left behind
        (or, where an undo step failed, a sandbox listed UNKNOWN for Stop/Remove)."""
        settings = self.settings
        check_sandbox(config, runtime_handler, settings.runtime_handlers, settings.node)
        sandbox = Sandbox(
            id=new_id(),
            config=config,
            runtime_handler=runtime_handler,
            created_at=self.clock.now_ns(),
        )
        async with self.pods.creating(sandbox, sandbox.name) as uow:
            image = await self.pull.ensure_image(settings.sandbox_image)
            await uow.record()  # uncommitted: recovery rolls it back
            if not config.host_network:
                sandbox.netns_path = await self.netns.create(sandbox.id)
                uow.on_rollback("remove netns", lambda: self.netns.remove(sandbox.netns_path))
                await uow.record()
            sandbox.ips, _ = await both(
                self._setup_network(sandbox, uow), self._create_pause(sandbox, image, uow)
            )
            if sandbox.ips:  # the hosts file names the pod by its IP, known only now
                await self._write_files(sandbox)
            pid = await self.runtime.start(sandbox.id)
            sandbox.mark_ready(pid)
            await uow.commit()
        return sandbox.id

    async def _write_files(self, sandbox: Sandbox) -> None:
        """The pod's hostname, hosts, resolv.conf, and its shm unless it shares the host's
        IPC."""
        own_ipc = sandbox.config.security.namespace_options.ipc != NamespaceMode.NODE
        shm = self.settings.shm_size if own_ipc else 0
        await self.files.write(sandbox.id, sandbox_files(sandbox, self.settings.node), shm)

    async def _setup_network(self, sandbox: Sandbox, uow: UnitOfWork) -> tuple[str, ...]:
        if sandbox.config.host_network:
            return ()
        request = network_request(sandbox)
        uow.on_rollback("network teardown", lambda: self.network.teardown(request))
        result = await self.network.setup(request)
        return result.ips

    async def _create_pause(self, sandbox: Sandbox, image: Image, uow: UnitOfWork) -> None:
        security = sandbox.config.security
        profile = await seccomp_profile(self.profiles, security.seccomp, security.privileged)
        uow.on_rollback("remove sandbox files", lambda: self.files.remove(sandbox.id))
        await self._write_files(sandbox)
        request = CreateRequest(
            id=sandbox.id,
            sandbox_id=sandbox.id,
            image=image,
            spec=sandbox_spec(sandbox, image, self.settings.node, profile),
            labels={KIND_LABEL: "sandbox"},
            start_soon=True,  # its process is made while the network is set up
        )
        uow.on_rollback("delete pause container", lambda: self.runtime.delete(sandbox.id))
        await self.runtime.create(request)
