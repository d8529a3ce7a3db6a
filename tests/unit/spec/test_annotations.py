"""The io.kubernetes.cri.* annotations."""

from __future__ import annotations

from domain.spec.annotations import cri_annotations
from tests.unit.spec.builders import pod_config


def test_sandbox_annotations() -> None:
    pod = pod_config(log_directory="/var/log/pods/x")
    assert cri_annotations("sid", pod, "pause:3.9") == {
        "io.kubernetes.cri.container-type": "sandbox",
        "io.kubernetes.cri.sandbox-id": "sid",
        "io.kubernetes.cri.sandbox-name": "web",
        "io.kubernetes.cri.sandbox-namespace": "default",
        "io.kubernetes.cri.sandbox-uid": "uid-1",
        "io.kubernetes.cri.sandbox-log-directory": "/var/log/pods/x",
        "io.kubernetes.cri.image-name": "pause:3.9",
    }


def test_container_annotations() -> None:
    values = cri_annotations("sid", pod_config(), "busybox", "app")
    assert values["io.kubernetes.cri.container-type"] == "container"
    assert values["io.kubernetes.cri.container-name"] == "app"
    assert values["io.kubernetes.cri.image-name"] == "busybox"
    assert "io.kubernetes.cri.sandbox-log-directory" not in values
