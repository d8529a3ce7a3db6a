"""OCI runtime spec generation: CRI config + image config -> OCI spec, as pure functions.

Each spec is a default spec (`defaults`) run through a pipeline of small steps
(`pipeline.apply`), the way containerd's CRI applies `oci.SpecOpts`; the steps live in
modules named for what they set (process, user, mounts, devices, capabilities, security,
namespaces, resources, annotations). `sandbox` and `container` hold the two pipelines.
"""

from __future__ import annotations

from domain.spec.container import container_spec
from domain.spec.devices import HostDevice, HostDevices
from domain.spec.files import sandbox_files
from domain.spec.node import NodeOptions, sandbox_dir
from domain.spec.pipeline import Spec, Step, apply
from domain.spec.sandbox import sandbox_spec
from domain.spec.user import needs_passwd, with_resolved_user

__all__ = [
    "HostDevice",
    "HostDevices",
    "NodeOptions",
    "Spec",
    "Step",
    "apply",
    "container_spec",
    "needs_passwd",
    "sandbox_dir",
    "sandbox_files",
    "sandbox_spec",
    "with_resolved_user",
]
