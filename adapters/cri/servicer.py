"""The CRI v1 RuntimeService and ImageService for grpc.aio, each RPC one domain use case.

Every method translates the request (`from_cri`), calls the service, translates the answer
(`to_cri`); `errors.unary`/`errors.streaming` turn domain errors into gRPC status codes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from functools import partial
from typing import Any, TypeAlias

import grpc
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from adapters.cri import from_cri, to_cri
from adapters.cri.errors import streaming, unary
from adapters.cri.listing import MessageCache
from domain.errors import InvalidArgument, Unimplemented
from domain.model import Container, ContainerEvent, Image, PodStats, Sandbox
from domain.services import (
    container_create,
    container_exec,
    container_query,
    container_remove,
    container_start,
    container_stop,
    container_stream,
    container_update,
    image_pull,
    image_query,
    image_remove,
    runtime_info,
    sandbox_query,
    sandbox_remove,
    sandbox_run,
    sandbox_stop,
)
from domain.services.context import Context
from domain.validation.resources import check_resources
from ports.streams import StreamingUrls

Ctx: TypeAlias = grpc.aio.ServicerContext[Any, Any]

NO_STREAMING = "{rpc} needs the CRI streaming server, which this server was started without"
NO_CHECKPOINT = "CheckpointContainer: checkpointing is not available in this build of hexcri"
NO_METRICS = (
    "{rpc}: hexcri serves no CRI metrics (as containerd 1.6); kubelet reads them from cAdvisor"
)


class RuntimeServicer(cri_grpc.RuntimeServiceServicer):
    """runtime.v1.RuntimeService over a domain `Context`."""

    def __init__(
        self,
        ctx: Context,
        streaming: StreamingUrls | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.ctx = ctx
        self._streaming = streaming
        self.config = config or {}  # the effective configuration, for Status verbose
        self._listed_containers: MessageCache[cri.Container] = MessageCache()
        self._listed_sandboxes: MessageCache[cri.PodSandbox] = MessageCache()

    # --- helpers ------------------------------------------------------------------------------

    def _image_of(self, container: Container) -> Image | None:
        return self.ctx.images.resolve(container.image_id) if container.image_id else None

    def _container_status(self, container: Container) -> cri.ContainerStatus:
        sandbox = self.ctx.sandboxes.find(container.sandbox_id)
        return to_cri.container_status(container, sandbox, self._image_of(container))

    def _event(self, event: ContainerEvent) -> cri.ContainerEventResponse:
        sandbox = self.ctx.sandboxes.find(event.sandbox_id) if event.sandbox_id else None
        containers = self.ctx.containers.of_sandbox(sandbox.id) if sandbox is not None else []
        return to_cri.container_event(event, sandbox, [(c, self._image_of(c)) for c in containers])

    # --- runtime ------------------------------------------------------------------------------

    @unary
    async def Version(self, request: cri.VersionRequest, context: Ctx) -> cri.VersionResponse:
        v = runtime_info.version(self.ctx)
        return cri.VersionResponse(
            version=v.version,
            runtime_name=v.runtime_name,
            runtime_version=v.runtime_version,
            runtime_api_version=v.runtime_api_version,
        )

    @unary
    async def Status(self, request: cri.StatusRequest, context: Ctx) -> cri.StatusResponse:
        conditions = await runtime_info.status(self.ctx)
        verbose = {}
        if request.verbose:  # as containerd's CRI: `crictl info` and tools read these keys
            network = runtime_info.network_info(self.ctx)
            verbose = {
                "config": json.dumps(self.config),
                "cniconfig": json.dumps(network.config),
                "lastCNILoadStatus": network.last_load_status,
            }
        return cri.StatusResponse(
            status=cri.RuntimeStatus(conditions=[to_cri.runtime_condition(c) for c in conditions]),
            info=verbose,
            runtime_handlers=[cri.RuntimeHandler(name="", features=cri.RuntimeHandlerFeatures())],
        )

    @unary
    async def UpdateRuntimeConfig(
        self, request: cri.UpdateRuntimeConfigRequest, context: Ctx
    ) -> cri.UpdateRuntimeConfigResponse:
        pod_cidr = request.runtime_config.network_config.pod_cidr
        runtime_info.update_runtime_config(self.ctx, pod_cidr)
        return cri.UpdateRuntimeConfigResponse()

    @unary
    async def RuntimeConfig(
        self, request: cri.RuntimeConfigRequest, context: Ctx
    ) -> cri.RuntimeConfigResponse:
        driver = runtime_info.cgroup_driver(self.ctx)
        return cri.RuntimeConfigResponse(
            linux=cri.LinuxRuntimeConfiguration(
                cgroup_driver=cri.SYSTEMD if driver == "systemd" else cri.CGROUPFS
            )
        )

    # --- sandboxes ----------------------------------------------------------------------------

    @unary
    async def RunPodSandbox(
        self, request: cri.RunPodSandboxRequest, context: Ctx
    ) -> cri.RunPodSandboxResponse:
        from_cri.require(request, "config", "sandbox config")
        config = from_cri.sandbox_config(request.config)
        sandbox_id = await sandbox_run.run_pod_sandbox(self.ctx, config, request.runtime_handler)
        return cri.RunPodSandboxResponse(pod_sandbox_id=sandbox_id)

    @unary
    async def StopPodSandbox(
        self, request: cri.StopPodSandboxRequest, context: Ctx
    ) -> cri.StopPodSandboxResponse:
        await sandbox_stop.stop_pod_sandbox(self.ctx, request.pod_sandbox_id)
        return cri.StopPodSandboxResponse()

    @unary
    async def RemovePodSandbox(
        self, request: cri.RemovePodSandboxRequest, context: Ctx
    ) -> cri.RemovePodSandboxResponse:
        await sandbox_remove.remove_pod_sandbox(self.ctx, request.pod_sandbox_id)
        return cri.RemovePodSandboxResponse()

    @unary
    async def PodSandboxStatus(
        self, request: cri.PodSandboxStatusRequest, context: Ctx
    ) -> cri.PodSandboxStatusResponse:
        sandbox = sandbox_query.pod_sandbox_status(self.ctx, request.pod_sandbox_id)
        containers = self.ctx.containers.of_sandbox(sandbox.id)
        return cri.PodSandboxStatusResponse(
            status=to_cri.pod_sandbox_status(sandbox),
            info=(
                to_cri.sandbox_info(sandbox, sandbox_query.is_reconciling(self.ctx, sandbox.id))
                if request.verbose
                else {}
            ),
            containers_statuses=[self._container_status(c) for c in containers],
            timestamp=self.ctx.ports.clock.now_ns(),
        )

    @unary
    async def ListPodSandbox(
        self, request: cri.ListPodSandboxRequest, context: Ctx
    ) -> cri.ListPodSandboxResponse:
        f = from_cri.sandbox_filter(request.filter) if request.HasField("filter") else None
        sandboxes = sandbox_query.list_pod_sandboxes(self.ctx, f)
        cache = self._listed_sandboxes
        items = [cache.get(s.id, s.state, partial(to_cri.pod_sandbox, s)) for s in sandboxes]
        if f is None:
            cache.prune(len(items))
        return cri.ListPodSandboxResponse(items=items)

    @unary
    async def UpdatePodSandboxResources(
        self, request: cri.UpdatePodSandboxResourcesRequest, context: Ctx
    ) -> cri.UpdatePodSandboxResourcesResponse:
        """Accepted and validated (the sandbox exists, the resources are sane); nothing is
        applied yet: the pod cgroup's limits stay as the containers set them."""
        sandbox_query.pod_sandbox_status(self.ctx, request.pod_sandbox_id)
        for field in ("overhead", "resources"):
            if request.HasField(field):
                resources = from_cri.linux_resources(getattr(request, field))
                check_resources(field, resources, self.ctx.settings.node)
        return cri.UpdatePodSandboxResourcesResponse()

    # --- containers ---------------------------------------------------------------------------

    @unary
    async def CreateContainer(
        self, request: cri.CreateContainerRequest, context: Ctx
    ) -> cri.CreateContainerResponse:
        from_cri.require(request, "config", "container config")
        config = from_cri.container_config(request.config)
        container_id = await container_create.create_container(
            self.ctx, request.pod_sandbox_id, config
        )
        return cri.CreateContainerResponse(container_id=container_id)

    @unary
    async def StartContainer(
        self, request: cri.StartContainerRequest, context: Ctx
    ) -> cri.StartContainerResponse:
        await container_start.start_container(self.ctx, request.container_id)
        return cri.StartContainerResponse()

    @unary
    async def StopContainer(
        self, request: cri.StopContainerRequest, context: Ctx
    ) -> cri.StopContainerResponse:
        await container_stop.stop_container(self.ctx, request.container_id, request.timeout)
        return cri.StopContainerResponse()

    @unary
    async def RemoveContainer(
        self, request: cri.RemoveContainerRequest, context: Ctx
    ) -> cri.RemoveContainerResponse:
        await container_remove.remove_container(self.ctx, request.container_id)
        return cri.RemoveContainerResponse()

    @unary
    async def ListContainers(
        self, request: cri.ListContainersRequest, context: Ctx
    ) -> cri.ListContainersResponse:
        f = from_cri.container_filter(request.filter) if request.HasField("filter") else None
        containers = container_query.list_containers(self.ctx, f)
        cache = self._listed_containers
        listed = [cache.get(c.id, self._list_key(c), partial(self._listed, c)) for c in containers]
        if f is None:
            cache.prune(len(listed))
        return cri.ListContainersResponse(containers=listed)

    def _list_key(self, container: Container) -> tuple[object, ...]:
        """What a listed container shows that can change: its state and its image's name."""
        image = self._image_of(container)
        return container.state, image.repo_tags[:1] if image is not None else None

    def _listed(self, container: Container) -> cri.Container:
        return to_cri.cri_container(container, self._image_of(container))

    @unary
    async def ContainerStatus(
        self, request: cri.ContainerStatusRequest, context: Ctx
    ) -> cri.ContainerStatusResponse:
        container = container_query.container_status(self.ctx, request.container_id)
        return cri.ContainerStatusResponse(
            status=self._container_status(container),
            info=(
                to_cri.container_info(
                    container, sandbox_query.is_reconciling(self.ctx, container.id)
                )
                if request.verbose
                else {}
            ),
        )

    @unary
    async def UpdateContainerResources(
        self, request: cri.UpdateContainerResourcesRequest, context: Ctx
    ) -> cri.UpdateContainerResourcesResponse:
        from_cri.require(request, "linux", "linux resources")
        resources = from_cri.linux_resources(request.linux)
        await container_update.update_container_resources(self.ctx, request.container_id, resources)
        return cri.UpdateContainerResourcesResponse()

    @unary
    async def ReopenContainerLog(
        self, request: cri.ReopenContainerLogRequest, context: Ctx
    ) -> cri.ReopenContainerLogResponse:
        await container_exec.reopen_container_log(self.ctx, request.container_id)
        return cri.ReopenContainerLogResponse()

    @unary
    async def ExecSync(self, request: cri.ExecSyncRequest, context: Ctx) -> cri.ExecSyncResponse:
        if request.timeout < 0:
            raise InvalidArgument("exec timeout must not be negative")
        result = await container_exec.exec_sync(
            self.ctx, request.container_id, list(request.cmd), request.timeout
        )
        return cri.ExecSyncResponse(
            stdout=result.stdout, stderr=result.stderr, exit_code=result.exit_code
        )

    def _urls(self, rpc: str) -> StreamingUrls:
        if self._streaming is None:
            raise Unimplemented(NO_STREAMING.format(rpc=rpc))
        return self._streaming

    @unary
    async def Exec(self, request: cri.ExecRequest, context: Ctx) -> cri.ExecResponse:
        """A URL of the streaming server where the client runs the command interactively."""
        urls = self._urls("Exec")
        prepared = container_stream.prepare_exec(
            self.ctx,
            request.container_id,
            list(request.cmd),
            tty=request.tty,
            stdin=request.stdin,
            stdout=request.stdout,
            stderr=request.stderr,
        )
        return cri.ExecResponse(url=urls.url_for(prepared))

    @unary
    async def Attach(self, request: cri.AttachRequest, context: Ctx) -> cri.AttachResponse:
        urls = self._urls("Attach")
        prepared = container_stream.prepare_attach(
            self.ctx,
            request.container_id,
            tty=request.tty,
            stdin=request.stdin,
            stdout=request.stdout,
            stderr=request.stderr,
        )
        return cri.AttachResponse(url=urls.url_for(prepared))

    @unary
    async def PortForward(
        self, request: cri.PortForwardRequest, context: Ctx
    ) -> cri.PortForwardResponse:
        urls = self._urls("PortForward")
        prepared = container_stream.prepare_port_forward(
            self.ctx, request.pod_sandbox_id, list(request.port)
        )
        return cri.PortForwardResponse(url=urls.url_for(prepared))

    @unary
    async def CheckpointContainer(
        self, request: cri.CheckpointContainerRequest, context: Ctx
    ) -> cri.CheckpointContainerResponse:
        raise Unimplemented(NO_CHECKPOINT)

    # --- stats, events, metrics ---------------------------------------------------------------

    @unary
    async def ContainerStats(
        self, request: cri.ContainerStatsRequest, context: Ctx
    ) -> cri.ContainerStatsResponse:
        container, stats = await container_query.container_stats(self.ctx, request.container_id)
        return cri.ContainerStatsResponse(stats=to_cri.container_stats(container, stats))

    @unary
    async def ListContainerStats(
        self, request: cri.ListContainerStatsRequest, context: Ctx
    ) -> cri.ListContainerStatsResponse:
        f = from_cri.container_filter(request.filter) if request.HasField("filter") else None
        pairs = await container_query.list_container_stats(self.ctx, f)
        return cri.ListContainerStatsResponse(
            stats=[to_cri.container_stats(c, s) for c, s in pairs]
        )

    def _pod_stats(self, sandbox: Sandbox, stats: PodStats) -> cri.PodSandboxStats:
        pairs = []
        for s in stats.containers:
            container = self.ctx.containers.lookup(s.container_id)
            if container is not None and container.sandbox_id == sandbox.id:
                pairs.append((container, s))
        return to_cri.pod_sandbox_stats(sandbox, stats, pairs)

    @unary
    async def PodSandboxStats(
        self, request: cri.PodSandboxStatsRequest, context: Ctx
    ) -> cri.PodSandboxStatsResponse:
        sandbox, stats = await sandbox_query.pod_sandbox_stats(self.ctx, request.pod_sandbox_id)
        return cri.PodSandboxStatsResponse(stats=self._pod_stats(sandbox, stats))

    @unary
    async def ListPodSandboxStats(
        self, request: cri.ListPodSandboxStatsRequest, context: Ctx
    ) -> cri.ListPodSandboxStatsResponse:
        f = from_cri.sandbox_filter(request.filter) if request.HasField("filter") else None
        found = await sandbox_query.list_pod_sandbox_stats(self.ctx, f)
        return cri.ListPodSandboxStatsResponse(stats=[self._pod_stats(s, p) for s, p in found])

    @streaming
    async def GetContainerEvents(
        self, request: cri.GetEventsRequest, context: Ctx
    ) -> AsyncIterator[cri.ContainerEventResponse]:
        async for event in self.ctx.bus.subscribe():
            yield self._event(event)

    @unary
    async def ListMetricDescriptors(
        self, request: cri.ListMetricDescriptorsRequest, context: Ctx
    ) -> cri.ListMetricDescriptorsResponse:
        """Unimplemented, not an empty list: an empty answer would claim CRI metrics support."""
        raise Unimplemented(NO_METRICS.format(rpc="ListMetricDescriptors"))

    @unary
    async def ListPodSandboxMetrics(
        self, request: cri.ListPodSandboxMetricsRequest, context: Ctx
    ) -> cri.ListPodSandboxMetricsResponse:
        raise Unimplemented(NO_METRICS.format(rpc="ListPodSandboxMetrics"))


class ImageServicer(cri_grpc.ImageServiceServicer):
    """runtime.v1.ImageService over a domain `Context`."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @unary
    async def ListImages(
        self, request: cri.ListImagesRequest, context: Ctx
    ) -> cri.ListImagesResponse:
        images = image_query.list_images(self.ctx, request.filter.image.image)
        return cri.ListImagesResponse(images=[to_cri.cri_image(i) for i in images])

    @unary
    async def ImageStatus(
        self, request: cri.ImageStatusRequest, context: Ctx
    ) -> cri.ImageStatusResponse:
        """An absent image is an empty answer, not an error (kubelet then pulls it)."""
        from_cri.require(request, "image", "image spec")
        image = image_query.image_status(self.ctx, request.image.image)
        if image is None:
            return cri.ImageStatusResponse()
        return cri.ImageStatusResponse(
            image=to_cri.cri_image(image),
            info=to_cri.image_info(image) if request.verbose else {},
        )

    @unary
    async def PullImage(self, request: cri.PullImageRequest, context: Ctx) -> cri.PullImageResponse:
        from_cri.require(request, "image", "image spec")
        auth = from_cri.auth_config(request.auth) if request.HasField("auth") else None
        image_id = await image_pull.pull_image(self.ctx, request.image.image, auth)
        return cri.PullImageResponse(image_ref=image_id)

    @unary
    async def RemoveImage(
        self, request: cri.RemoveImageRequest, context: Ctx
    ) -> cri.RemoveImageResponse:
        from_cri.require(request, "image", "image spec")
        await image_remove.remove_image(self.ctx, request.image.image)
        return cri.RemoveImageResponse()

    @unary
    async def ImageFsInfo(
        self, request: cri.ImageFsInfoRequest, context: Ctx
    ) -> cri.ImageFsInfoResponse:
        usage = [to_cri.filesystem_usage(u) for u in await image_query.image_fs_info(self.ctx)]
        # the writable layers live in the same snapshotter (containerd 1.7 reports it twice)
        return cri.ImageFsInfoResponse(image_filesystems=usage, container_filesystems=usage)
