"""cri-tools `pkg/validate/idempotence.go`: "Idempotence" — Stop and Remove calls succeed on
what is already stopped or gone (CRI api.proto: "If there are any running containers in the
sandbox, they must be forcibly terminated"; "If the … is not found, it must not return an
error")."""

from __future__ import annotations

import pytest
from cri_api.v1 import api_pb2 as cri

from tests.conformance import framework as fw

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]

FAKE_IMAGE_ID = "0" * 64
# Debian's containerd 1.6.20 predates the fixes the idempotence specs brought (2024):
# containerd#10520 (StopPodSandbox) and #10521 (StopContainer), in 1.6.35, 1.7.21 and 2.0
OLD_CONTAINERD = "containerd 1.6.20 answers NotFound (fixed upstream by containerd#{pr})"


def stop_and_check_not_ready(c: fw.Endpoint, pod_id: str) -> None:
    """testStopPodSandbox."""
    fw.stop_pod_sandbox(c, pod_id)
    assert fw.pod_sandbox_status(c, pod_id).state == cri.SANDBOX_NOTREADY


@fw.on_both(
    containerd_cri=OLD_CONTAINERD.format(pr=10520),
)
def test_stop_pod_sandbox_not_found(c: fw.Endpoint) -> None:
    """StopPodSandbox should not return an error if not found"""
    fw.stop_pod_sandbox(c, fw.new_uuid())


@fw.on_both()
def test_stop_pod_sandbox_already_stopped(c: fw.Endpoint) -> None:
    """StopPodSandbox should not return an error if already stopped"""
    pod_id = fw.run_default_pod_sandbox(c, "idempotence-pod-")
    stop_and_check_not_ready(c, pod_id)
    stop_and_check_not_ready(c, pod_id)
    fw.remove_pod_sandbox(c, pod_id)


@fw.on_both()
def test_remove_pod_sandbox_not_found(c: fw.Endpoint) -> None:
    """RemovePodSandbox should not return an error if not found"""
    fw.remove_pod_sandbox(c, fw.new_uuid())


@fw.on_both(
    containerd_cri=OLD_CONTAINERD.format(pr=10521),
)
def test_stop_container_not_found(c: fw.Endpoint) -> None:
    """StopContainer should not return an error if not found"""
    fw.stop_container(c, fw.new_uuid(), timeout=0)


@fw.on_both()
def test_stop_container_already_stopped(c: fw.Endpoint) -> None:
    """StopContainer should not return an error if already stopped"""
    pod_id, pod = fw.create_pod_sandbox_for_container(c)
    container_id = fw.create_pause_container(c, pod_id, pod, "idempotence-container-")
    fw.start_container(c, container_id)
    fw.stop_container_exited(c, container_id)
    fw.remove_container(c, container_id)
    fw.remove_container(c, container_id)
    fw.stop_pod_sandbox(c, pod_id)
    fw.remove_pod_sandbox(c, pod_id)


@fw.on_both()
def test_remove_container_not_found(c: fw.Endpoint) -> None:
    """RemoveContainer should not return an error if not found"""
    fw.remove_container(c, fw.new_uuid())


@fw.on_both()
def test_remove_image_not_found(c: fw.Endpoint) -> None:
    """RemoveImage should not return an error if not found"""
    request = cri.RemoveImageRequest(image=cri.ImageSpec(image=FAKE_IMAGE_ID))
    c.images.RemoveImage(request, timeout=fw.RPC_TIMEOUT)
    c.images.RemoveImage(request, timeout=fw.RPC_TIMEOUT)
