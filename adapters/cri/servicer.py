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
from domain.model import Container
from domain.services.container_query import ContainerView
from domain.services.sandbox_query import PodStatsView
from domain.services.usecases import UseCases
from ports.streams import StreamingUrls

Ctx: TypeAlias = grpc.aio.ServicerContext[Any, Any]

NO_STREAMING = "{rpc} needs the CRI streaming server, which this server was started without"
NO_CHECKPOINT = "CheckpointContainer: checkpointing is not available in this build of hexcri"
NO_METRICS = (
    "{rpc}: hexcri serves no CRI metrics (as containerd 1.6); kubelet reads them from cAdvisor"
)


class RuntimeServicer(cri_grpc.RuntimeServiceServicer):
    """runtime.v1.RuntimeService over the domain's use cases."""

    def __init__(
        self,
        uses: UseCases,
        streaming: StreamingUrls | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.uses = uses
        self._streaming = streaming
        self.config = config or {}  # the effective configuration, for Status verbose
        self._listed_containers: MessageCache[cri.Container] = MessageCache()
        self._listed_sandboxes: MessageCache[cri.PodSandbox] = MessageCache()

    # --- helpers ------------------------------------------------------------------------------

    def _container_status(self, view: ContainerView) -> cri.ContainerStatus:
        return to_cri.container_status(view.container, view.sandbox, view.image)

    # --- runtime ------------------------------------------------------------------------------

    @unary
    async def Version(self, request: cri.VersionRequest, context: Ctx) -> cri.VersionResponse:
        v = self.uses.runtime_info.version()
        return cri.VersionResponse(
            version=v.version,
            runtime_name=v.runtime_name,
            runtime_version=v.runtime_version,
            runtime_api_version=v.runtime_api_version,
        )

    @unary
    async def Status(self, request: cri.StatusRequest, context: Ctx) -> cri.StatusResponse:
        report = await self.uses.runtime_info.status_report(request.verbose)
        conditions, network = report.conditions, report.network
        verbose = {}
        if network is not None:  # as containerd's CRI: `crictl info` and tools read these keys
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
        self.uses.runtime_info.update_runtime_config(pod_cidr)
        return cri.UpdateRuntimeConfigResponse()

    @unary
    async def RuntimeConfig(
        self, request: cri.RuntimeConfigRequest, context: Ctx
    ) -> cri.RuntimeConfigResponse:
        driver = self.uses.runtime_info.cgroup_driver()
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
        sandbox_id = await self.uses.sandbox_run.run_pod_sandbox(config, request.runtime_handler)
        return cri.RunPodSandboxResponse(pod_sandbox_id=sandbox_id)

    @unary
    async def StopPodSandbox(
        self, request: cri.StopPodSandboxRequest, context: Ctx
    ) -> cri.StopPodSandboxResponse:
        await self.uses.sandbox_stop.stop_pod_sandbox(request.pod_sandbox_id)
        return cri.StopPodSandboxResponse()

    @unary
    async def RemovePodSandbox(
        self, request: cri.RemovePodSandboxRequest, context: Ctx
    ) -> cri.RemovePodSandboxResponse:
        await self.uses.sandbox_remove.remove_pod_sandbox(request.pod_sandbox_id)
        return cri.RemovePodSandboxResponse()

    @unary
    async def PodSandboxStatus(
        self, request: cri.PodSandboxStatusRequest, context: Ctx
    ) -> cri.PodSandboxStatusResponse:
        view = self.uses.sandbox_query.sandbox_view(request.pod_sandbox_id)
        sandbox = view.sandbox
        return cri.PodSandboxStatusResponse(
            status=to_cri.pod_sandbox_status(sandbox),
            info=to_cri.sandbox_info(sandbox, view.reconciling) if request.verbose else {},
            containers_statuses=[self._container_status(c) for c in view.containers],
            timestamp=view.timestamp,
        )

    @unary
    async def ListPodSandbox(
        self, request: cri.ListPodSandboxRequest, context: Ctx
    ) -> cri.ListPodSandboxResponse:
        f = from_cri.sandbox_filter(request.filter) if request.HasField("filter") else None
        sandboxes = self.uses.sandbox_query.list_pod_sandboxes(f)
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
        sandbox_id = self.uses.sandbox_query.pod_sandbox_status(request.pod_sandbox_id).id
        update = self.uses.sandbox_update
        if request.HasField("overhead"):
            overhead = from_cri.linux_resources(request.overhead)
            update.update_pod_sandbox_resources(sandbox_id, overhead=overhead)
        if request.HasField("resources"):
            resources = from_cri.linux_resources(request.resources)
            update.update_pod_sandbox_resources(sandbox_id, resources=resources)
        return cri.UpdatePodSandboxResourcesResponse()

    # --- containers ---------------------------------------------------------------------------

    @unary
    async def CreateContainer(
        self, request: cri.CreateContainerRequest, context: Ctx
    ) -> cri.CreateContainerResponse:
        from_cri.require(request, "config", "container config")
        config = from_cri.container_config(request.config)
        container_id = await self.uses.container_create.create_container(
            request.pod_sandbox_id, config
        )
        return cri.CreateContainerResponse(container_id=container_id)

    @unary
    async def StartContainer(
        self, request: cri.StartContainerRequest, context: Ctx
    ) -> cri.StartContainerResponse:
        await self.uses.container_start.start_container(request.container_id)
        return cri.StartContainerResponse()

    @unary
    async def StopContainer(
        self, request: cri.StopContainerRequest, context: Ctx
    ) -> cri.StopContainerResponse:
        await self.uses.container_stop.stop_container(request.container_id, request.timeout)
        return cri.StopContainerResponse()

    @unary
    async def RemoveContainer(
        self, request: cri.RemoveContainerRequest, context: Ctx
    ) -> cri.RemoveContainerResponse:
        await self.uses.container_remove.remove_container(request.container_id)
        return cri.RemoveContainerResponse()

    @unary
    async def ListContainers(
        self, request: cri.ListContainersRequest, context: Ctx
    ) -> cri.ListContainersResponse:
        f = from_cri.container_filter(request.filter) if request.HasField("filter") else None
        containers = self.uses.container_query.list_containers(f)
        cache = self._listed_containers
        listed = [cache.get(c.id, self._list_key(c), partial(self._listed, c)) for c in containers]
        if f is None:
            cache.prune(len(listed))
        return cri.ListContainersResponse(containers=listed)

    def _list_key(self, container: Container) -> tuple[object, ...]:
        """What a listed container shows that can change: its state and its image's name."""
        image = self.uses.container_query.image_of(container)
        return container.state, image.repo_tags[:1] if image is not None else None

    def _listed(self, container: Container) -> cri.Container:
        return to_cri.cri_container(container, self.uses.container_query.image_of(container))

    @unary
    async def ContainerStatus(
        self, request: cri.ContainerStatusRequest, context: Ctx
    ) -> cri.ContainerStatusResponse:
        view = self.uses.container_query.container_view(request.container_id)
        return cri.ContainerStatusResponse(
            status=self._container_status(view),
            info=to_cri.container_info(view.container, view.reconciling) if request.verbose else {},
        )

    @unary
    async def UpdateContainerResources(
        self, request: cri.UpdateContainerResourcesRequest, context: Ctx
    ) -> cri.UpdateContainerResourcesResponse:
        from_cri.require(request, "linux", "linux resources")
        resources = from_cri.linux_resources(request.linux)
        await self.uses.container_update.update_container_resources(request.container_id, resources)
        return cri.UpdateContainerResourcesResponse()

    @unary
    async def ReopenContainerLog(
        self, request: cri.ReopenContainerLogRequest, context: Ctx
    ) -> cri.ReopenContainerLogResponse:
        await self.uses.container_exec.reopen_container_log(request.container_id)
        return cri.ReopenContainerLogResponse()

    @unary
    async def ExecSync(self, request: cri.ExecSyncRequest, context: Ctx) -> cri.ExecSyncResponse:
        if request.timeout < 0:
            raise InvalidArgument("exec timeout must not be negative")
        result = await self.uses.container_exec.exec_sync(
            request.container_id, list(request.cmd), request.timeout
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
        prepared = self.uses.container_stream.prepare_exec(
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
        prepared = self.uses.container_stream.prepare_attach(
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
        prepared = self.uses.container_stream.prepare_port_forward(
            request.pod_sandbox_id, list(request.port)
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
        container, stats = await self.uses.container_query.container_stats(request.container_id)
        return cri.ContainerStatsResponse(stats=to_cri.container_stats(container, stats))

    @unary
    async def ListContainerStats(
        self, request: cri.ListContainerStatsRequest, context: Ctx
    ) -> cri.ListContainerStatsResponse:
        f = from_cri.container_filter(request.filter) if request.HasField("filter") else None
        pairs = await self.uses.container_query.list_container_stats(f)
        return cri.ListContainerStatsResponse(
            stats=[to_cri.container_stats(c, s) for c, s in pairs]
        )

    def _pod_stats(self, view: PodStatsView) -> cri.PodSandboxStats:
        return to_cri.pod_sandbox_stats(view.sandbox, view.stats, list(view.containers))

    @unary
    async def PodSandboxStats(
        self, request: cri.PodSandboxStatsRequest, context: Ctx
    ) -> cri.PodSandboxStatsResponse:
        view = await self.uses.sandbox_query.pod_stats_view(request.pod_sandbox_id)
        return cri.PodSandboxStatsResponse(stats=self._pod_stats(view))

    @unary
    async def ListPodSandboxStats(
        self, request: cri.ListPodSandboxStatsRequest, context: Ctx
    ) -> cri.ListPodSandboxStatsResponse:
        f = from_cri.sandbox_filter(request.filter) if request.HasField("filter") else None
        found = await self.uses.sandbox_query.list_pod_stats_views(f)
        return cri.ListPodSandboxStatsResponse(stats=[self._pod_stats(v) for v in found])

    @streaming
    async def GetContainerEvents(
        self, request: cri.GetEventsRequest, context: Ctx
    ) -> AsyncIterator[cri.ContainerEventResponse]:
        async for view in self.uses.container_query.container_events():
            yield to_cri.container_event(view.event, view.sandbox, list(view.containers))

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
    """runtime.v1.ImageService over the domain's use cases."""

    def __init__(self, uses: UseCases) -> None:
        self.uses = uses

    @unary
    async def ListImages(
        self, request: cri.ListImagesRequest, context: Ctx
    ) -> cri.ListImagesResponse:
        images = self.uses.image_query.list_images(request.filter.image.image)
        return cri.ListImagesResponse(images=[to_cri.cri_image(i) for i in images])

    @unary
    async def ImageStatus(
        self, request: cri.ImageStatusRequest, context: Ctx
    ) -> cri.ImageStatusResponse:
        """An absent image is an empty answer, not an error (kubelet then pulls it)."""
        from_cri.require(request, "image", "image spec")
        image = self.uses.image_query.image_status(request.image.image)
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
        image_id = await self.uses.image_pull.pull_image(request.image.image, auth)
        return cri.PullImageResponse(image_ref=image_id)

    @unary
    async def RemoveImage(
        self, request: cri.RemoveImageRequest, context: Ctx
    ) -> cri.RemoveImageResponse:
        from_cri.require(request, "image", "image spec")
        await self.uses.image_remove.remove_image(request.image.image)
        return cri.RemoveImageResponse()

    @unary
    async def ImageFsInfo(
        self, request: cri.ImageFsInfoRequest, context: Ctx
    ) -> cri.ImageFsInfoResponse:
        usage = [to_cri.filesystem_usage(u) for u in await self.uses.image_query.image_fs_info()]
        # the writable layers live in the same snapshotter (containerd 1.7 reports it twice)
        return cri.ImageFsInfoResponse(image_filesystems=usage, container_filesystems=usage)
