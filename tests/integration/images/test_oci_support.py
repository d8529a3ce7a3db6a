"""The test image writer's outputs are images containerd accepts and can run."""

from __future__ import annotations

import pytest

from tests.support import oci
from tests.support.containerd import Containerd

pytestmark = pytest.mark.containerd


def test_layout_import_and_run(containerd: Containerd) -> None:
    ref = "docker.io/hexcri/oci-support:busybox"
    image = oci.busybox_image()
    tarball = containerd.root / "oci-support.tar"
    image.write_layout_tar(tarball, ref)
    try:
        containerd.ctr("images", "import", str(tarball))
        listed = containerd.ctr("images", "ls")
        assert ref in listed
        assert image.digest in listed
        out = containerd.ctr("run", "--rm", ref, "oci-support-run", "sh", "-c", "id -un; echo hi")
        assert out.split() == ["root", "hi"]
    finally:
        tarball.unlink(missing_ok=True)
        containerd.ctr("images", "rm", "--sync", ref, check=False)


def test_pause_image_runs_and_stops_on_sigterm(containerd: Containerd) -> None:
    ref = "docker.io/hexcri/oci-support:pause"
    tarball = containerd.root / "oci-pause.tar"
    oci.pause_image().write_layout_tar(tarball, ref)
    try:
        containerd.ctr("images", "import", str(tarball))
        out = containerd.ctr("run", "--rm", ref, "oci-support-pause", "/pause", "-v")
        assert "hexcri-pause" in out
    finally:
        tarball.unlink(missing_ok=True)
        containerd.ctr("images", "rm", "--sync", ref, check=False)


def test_multiplatform_index_imports_the_host_platform(containerd: Containerd) -> None:
    ref = "docker.io/hexcri/oci-support:multi"
    index = oci.multiplatform_busybox()
    tarball = containerd.root / "oci-multi.tar"
    index.write_layout_tar(tarball, ref)
    try:
        containerd.ctr("images", "import", str(tarball))
        out = containerd.ctr("run", "--rm", ref, "oci-support-multi", "cat", "/platform")
        assert out == "linux/amd64"
    finally:
        tarball.unlink(missing_ok=True)
        containerd.ctr("images", "rm", "--sync", ref, check=False)
