"""Short names for the generated containerd API modules (generated on first import if missing)."""

# ruff: noqa: E402, I001
from adapters.containerd import protos

protos.ensure()

from adapters.containerd.gen.cgroups.stats.v1 import metrics_pb2 as cgroups_v1
from adapters.containerd.gen.cgroups.v2.stats import metrics_pb2 as cgroups_v2
from adapters.containerd.gen.containerd.api.events import task_pb2 as task_events
from adapters.containerd.gen.containerd.api.services.containers.v1 import (
    containers_pb2 as containers,
    containers_pb2_grpc as containers_grpc,
)
from adapters.containerd.gen.containerd.api.services.content.v1 import (
    content_pb2 as content,
    content_pb2_grpc as content_grpc,
)
from adapters.containerd.gen.containerd.api.services.diff.v1 import (
    diff_pb2 as diff,
    diff_pb2_grpc as diff_grpc,
)
from adapters.containerd.gen.containerd.api.services.events.v1 import (
    events_pb2 as events,
    events_pb2_grpc as events_grpc,
)
from adapters.containerd.gen.containerd.api.services.images.v1 import (
    images_pb2 as images,
    images_pb2_grpc as images_grpc,
)
from adapters.containerd.gen.containerd.api.services.introspection.v1 import (
    introspection_pb2 as introspection,
    introspection_pb2_grpc as introspection_grpc,
)
from adapters.containerd.gen.containerd.api.services.leases.v1 import (
    leases_pb2 as leases,
    leases_pb2_grpc as leases_grpc,
)
from adapters.containerd.gen.containerd.api.services.namespaces.v1 import (
    namespace_pb2 as namespaces,
    namespace_pb2_grpc as namespaces_grpc,
)
from adapters.containerd.gen.containerd.api.services.snapshots.v1 import (
    snapshots_pb2 as snapshots,
    snapshots_pb2_grpc as snapshots_grpc,
)
from adapters.containerd.gen.containerd.api.services.tasks.v1 import (
    tasks_pb2 as tasks,
    tasks_pb2_grpc as tasks_grpc,
)
from adapters.containerd.gen.containerd.api.services.version.v1 import (
    version_pb2 as version,
    version_pb2_grpc as version_grpc,
)
from adapters.containerd.gen.containerd.api.types import (
    descriptor_pb2 as descriptor,
    mount_pb2 as mount,
    platform_pb2 as platform,
)
from adapters.containerd.gen.containerd.api.types.task import task_pb2 as task_types

try:
    from adapters.containerd.gen.containerd.runtime.v2.runc.options import oci_pb2 as runc_options
except ImportError:  # the runc options proto is optional
    runc_options = None  # type: ignore[assignment]

__all__ = [
    "cgroups_v1",
    "cgroups_v2",
    "containers",
    "containers_grpc",
    "content",
    "content_grpc",
    "descriptor",
    "diff",
    "diff_grpc",
    "events",
    "events_grpc",
    "images",
    "images_grpc",
    "introspection",
    "introspection_grpc",
    "leases",
    "leases_grpc",
    "mount",
    "namespaces",
    "namespaces_grpc",
    "platform",
    "runc_options",
    "snapshots",
    "snapshots_grpc",
    "task_events",
    "task_types",
    "tasks",
    "tasks_grpc",
    "version",
    "version_grpc",
]
