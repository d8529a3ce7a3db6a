"""One node for the whole suite: the real stack (a private containerd under hexcri, the local
registry behind hosts.toml mirrors, CNI) and, beside it, a second containerd serving its own
CRI plugin. Each spec runs once per endpoint through the fixture `c`, which leaves the
endpoint as it found it (no pod, no container, only the baseline images)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri

from tests.conformance import framework as fw
from tests.conformance.images import push_all
from tests.support.cni import cni_available
from tests.support.containerd import CONTAINERD
from tests.support.registry import DOCKER_REGISTRY
from tests.support.stack import (
    ContainerdCri,
    Stack,
    _hosts_toml,
    containerd_cri_beside,
    running_stack,
)


@dataclass
class Node:
    stack: Stack
    reference: ContainerdCri
    endpoints: dict[str, fw.Endpoint]


def _missing() -> str:
    if os.geteuid() != 0:
        return "needs root"
    for tool in (CONTAINERD, DOCKER_REGISTRY, shutil.which("runc") or "/usr/sbin/runc"):
        if not os.path.exists(tool):
            return f"needs {tool}"
    return "" if cni_available() else "needs the CNI plugins in /usr/lib/cni"


def _wait_ready(c: fw.Endpoint, timeout: float = 30) -> None:
    """Until Status reports RuntimeReady and NetworkReady (containerd loads CNI lazily)."""

    def ready() -> set[str]:
        try:
            reply = c.runtime.Status(cri.StatusRequest(), timeout=5)
        except grpc.RpcError:
            return set()
        return {x.type for x in reply.status.conditions if x.status}

    fw.eventually(ready, lambda s: {"RuntimeReady", "NetworkReady"} <= s, timeout, 0.2)


def _warm_up(c: fw.Endpoint) -> None:
    """Pull the images every spec shares and run one pod (the sandbox image comes in);
    whatever images are there afterwards are kept between tests."""
    _wait_ready(c)
    for image in (fw.DEFAULT_CONTAINER_IMAGE, fw.WEB_SERVER_IMAGE, fw.HTTPD_IMAGE):
        fw.pull_public_image(c, image)
    pod_id = fw.run_default_pod_sandbox(c, "warm-up-")
    fw.cleanup_pod_sandbox(c, pod_id)
    c.baseline = {image.id for image in fw.list_images(c)}


@pytest.fixture(scope="package")
def node() -> Iterator[Node]:
    """The stack with both CRI endpoints, for every test of this package."""
    missing = _missing()
    if missing:
        pytest.skip(missing)
    with running_stack() as stack, containerd_cri_beside(stack) as reference:
        (stack.certs_dir / "gcr.io").mkdir()
        (stack.certs_dir / "gcr.io" / "hosts.toml").write_text(
            _hosts_toml("https://gcr.io", stack.registry.url)
        )
        push_all(stack.registry)
        endpoints = {
            "hexcri": fw.Endpoint.connect("hexcri", stack.socket, stack.hexcri_log),
            "containerd-cri": fw.Endpoint.connect(
                "containerd-cri", reference.socket, reference.containerd.log
            ),
        }
        try:
            for endpoint in endpoints.values():
                _warm_up(endpoint)
            yield Node(stack, reference, endpoints)
        finally:
            for endpoint in endpoints.values():
                endpoint.baseline = set()
                fw.reset(endpoint)  # nothing of the suite outlives it, images included
                endpoint.close()


@pytest.fixture
def c(request: pytest.FixtureRequest, node: Node) -> Iterator[fw.Endpoint]:
    """The endpoint a case runs on (parametrized by `framework.on_both`)."""
    endpoint = node.endpoints[request.param]
    started = time.monotonic()
    yield endpoint
    left = fw.reset(endpoint)
    # shown by pytest only when the test failed
    print(f"--- {endpoint.name} after {time.monotonic() - started:.1f}s; cleanup: {left or 'ok'}")
    print(f"--- {endpoint.name} log (tail) ---\n{endpoint.log.read_text()[-4000:]}")
