"""cri-tools `pkg/validate/runtime_info.go`: "Runtime info" / "runtime should support returning
runtime info"."""

from __future__ import annotations

import pytest
from cri_api.v1 import api_pb2 as cri

from tests.conformance import framework as fw

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]

DEFAULT_API_VERSION = "0.1.0"


@fw.on_both()
def test_version(c: fw.Endpoint) -> None:
    """runtime should return version info [Conformance]"""
    request = cri.VersionRequest(version=DEFAULT_API_VERSION)
    version = c.runtime.Version(request, timeout=fw.RPC_TIMEOUT)
    # upstream's `Not(BeNil())` on these strings always holds; ours asks them to be set
    assert version.version
    assert version.runtime_name
    assert version.runtime_version
    assert version.runtime_api_version


@fw.on_both()
def test_runtime_conditions(c: fw.Endpoint) -> None:
    """runtime should return runtime conditions [Conformance]"""
    status = c.runtime.Status(cri.StatusRequest(verbose=False), timeout=fw.RPC_TIMEOUT)
    wanted = ("RuntimeReady", "NetworkReady")
    ready = [x.type for x in status.status.conditions if x.type in wanted and x.status]
    assert len(ready) >= 2, status
