"""cri-tools `pkg/validate/container_linux.go`: "Container Mount Propagation", "Container OOM",
"Container Mount Readonly"."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri

from tests.conformance import framework as fw
from tests.support.stack import mounts_under

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]

NO_RRO = "runtime does not implement recursive readonly mounts"


def host_mount(*args: str) -> None:
    """`mount` on the host (the test runs in the host's mount namespace, as critest does)."""
    subprocess.run(["mount", *args], check=True, capture_output=True)


@contextlib.contextmanager
def host_dir(path: Path) -> Iterator[Path]:
    """`path`, made; afterwards every mount below it is lazily unmounted (deepest first) and
    the tree removed."""
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        for point in mounts_under(path):
            subprocess.run(["umount", "-l", point], capture_output=True)
        assert not mounts_under(path), f"mounts left under {path}"
        shutil.rmtree(path, ignore_errors=True)


def privileged_pod(c: fw.Endpoint) -> cri.PodSandboxConfig:
    """createPrivilegedPodSandbox(privileged=true)."""
    return fw.pod_config(
        c,
        "create-Privileged-PodSandbox-for-container-",
        linux=cri.LinuxPodSandboxConfig(
            security_context=cri.LinuxSandboxSecurityContext(privileged=True)
        ),
    )


# --- Container Mount Propagation -------------------------------------------------------------


def check_mount_propagation(c: fw.Endpoint, tmp: Path, propagation: int) -> None:
    with fw.pod_sandbox(c, privileged_pod(c)) as (pod_id, pod), host_dir(tmp / "hp") as host:
        mnt_source = host / "mnt"
        propagation_mnt = mnt_source / "propagationMnt"
        propagation_mnt.mkdir(parents=True, mode=0o700)
        propagation_src = host / "propagationSrcDir"
        propagation_src.mkdir(mode=0o700)
        (propagation_src / "flagFile").touch()
        host_mount("--rbind", str(mnt_source), str(mnt_source))
        shared = propagation != cri.PROPAGATION_PRIVATE
        host_mount("--make-rshared" if shared else "--make-rprivate", str(mnt_source))

        config = fw.container_config(
            "mount-propagation-test-",
            command=fw.DEFAULT_PAUSE_COMMAND,
            linux=cri.LinuxContainerConfig(
                security_context=cri.LinuxContainerSecurityContext(privileged=True)
            ),
            mounts=[
                cri.Mount(
                    host_path=str(mnt_source),
                    container_path=str(mnt_source),
                    propagation=propagation,  # type: ignore[arg-type]
                )
            ],
        )
        container_id = fw.create_container(c, config, pod_id, pod)
        mounts = fw.container_status(c, container_id, verbose=True).mounts
        assert len(mounts) == 1, mounts
        assert mounts[0].container_path == str(mnt_source)
        assert mounts[0].host_path == str(mnt_source)
        assert not mounts[0].readonly
        assert not mounts[0].selinux_relabel
        assert mounts[0].propagation == propagation

        fw.start_container_running(c, container_id)
        # a mount made on the host after the start
        host_mount("--rbind", str(propagation_src), str(propagation_mnt))
        seen = fw.exec_sync_container(c, container_id, ["ls", "-A", str(propagation_mnt)])
        if propagation == cri.PROPAGATION_PRIVATE:
            assert seen == "", "a private mount sees no host mount made later"
        else:
            assert seen, "the host's mount propagates into the container"

        # a mount made in the container
        container_mnt = mnt_source / "containerMntPoint"
        fw.exec_sync_container(c, container_id, ["sh", "-c", f"mkdir -p {container_mnt}"])
        fw.exec_sync_container(c, container_id, ["sh", "-c", f"mount --bind /etc {container_mnt}"])
        on_host = os.listdir(container_mnt)
        if propagation == cri.PROPAGATION_BIDIRECTIONAL:
            assert on_host, "the container's mount propagates to the host"
        else:
            assert on_host == [], "the container's mount stays in the container"


@fw.on_both()
def test_mount_rprivate(c: fw.Endpoint, tmp_path: Path) -> None:
    """mount with 'rprivate' should not support propagation"""
    check_mount_propagation(c, tmp_path, cri.PROPAGATION_PRIVATE)


@fw.on_both()
def test_mount_rshared(c: fw.Endpoint, tmp_path: Path) -> None:
    """mount with 'rshared' should support propagation from host to container and vice versa"""
    check_mount_propagation(c, tmp_path, cri.PROPAGATION_BIDIRECTIONAL)


@fw.on_both()
def test_mount_rslave(c: fw.Endpoint, tmp_path: Path) -> None:
    """mount with 'rslave' should support propagation from host to container"""
    check_mount_propagation(c, tmp_path, cri.PROPAGATION_HOST_TO_CONTAINER)


# --- Container OOM ---------------------------------------------------------------------------


@fw.on_both()
def test_oom_killed(c: fw.Endpoint) -> None:
    """should terminate with exitCode 137 and reason OOMKilled"""
    with fw.pod_sandbox(c, privileged_pod(c)) as (pod_id, pod):
        limit = 15 * 1024 * 1024
        config = fw.container_config(
            "OOM-test-",
            command=["sh", "-c", "dd if=/dev/zero of=/dev/null bs=20M"],
            linux=cri.LinuxContainerConfig(
                resources=cri.LinuxContainerResources(
                    memory_limit_in_bytes=limit, memory_swap_limit_in_bytes=limit
                )
            ),
        )
        container_id = fw.create_container(c, config, pod_id, pod)
        fw.container_status(c, container_id, verbose=True)
        fw.start_container(c, container_id)
        fw.wait_container_state(c, container_id, cri.CONTAINER_EXITED)
        fw.eventually(
            lambda: fw.container_status(c, container_id).reason,
            lambda reason: reason == "OOMKilled",
            fw.MINUTE,
            fw.STATE_POLL,
        )
        assert fw.container_status(c, container_id).exit_code == 137


# --- Container Mount Readonly ----------------------------------------------------------------


def runtime_supports_rro(c: fw.Endpoint) -> bool:
    """The default runtime handler (name "") announces recursive read-only mounts."""
    status = c.runtime.Status(cri.StatusRequest(), timeout=fw.RPC_TIMEOUT)
    return any(
        h.name == "" and h.HasField("features") and h.features.recursive_read_only_mounts
        for h in status.runtime_handlers
    )


@contextlib.contextmanager
def rro_host_path(tmp: Path) -> Iterator[Path]:
    """A host dir with a tmpfs mounted on its `tmpfs` subdir."""
    with host_dir(tmp / "rro") as host:
        (host / "tmpfs").mkdir(mode=0o700)
        host_mount("-t", "tmpfs", "none", str(host / "tmpfs"))
        yield host


def mount_container_config(mounts: list[cri.Mount]) -> cri.ContainerConfig:
    return fw.container_config("test-mount-", command=fw.DEFAULT_PAUSE_COMMAND, mounts=mounts)


def check_rro(c: fw.Endpoint, tmp: Path, rro: bool) -> None:
    """testRRO (the pod is the BeforeEach's: made before the runtime is asked)."""
    with fw.pod_sandbox(c, privileged_pod(c)) as (pod_id, pod):
        if rro and not runtime_supports_rro(c):
            pytest.skip(NO_RRO)
        with rro_host_path(tmp) as host:
            mount = cri.Mount(
                host_path=str(host),
                container_path="/mnt",
                readonly=True,
                recursive_read_only=rro,
                selinux_relabel=True,
            )
            container_id = fw.create_container(c, mount_container_config([mount]), pod_id, pod)
            assert len(fw.container_status(c, container_id, verbose=True).mounts) == 1
            fw.start_container_running(c, container_id)
            command = ["touch", "/mnt/tmpfs/file"]
            if rro:
                touch = 'touch /mnt/tmpfs/foo 2>&1 | grep -q "Read-only file system"'
                command = ["sh", "-c", touch]
            fw.exec_sync_container(c, container_id, command)


def check_rro_rejected(c: fw.Endpoint, tmp: Path, **mount: object) -> None:
    """testRROInvalidPropagation (the pod made before the runtime is asked, as upstream)."""
    with fw.pod_sandbox(c, privileged_pod(c)) as (pod_id, pod):
        if not runtime_supports_rro(c):
            pytest.skip(NO_RRO)
        with rro_host_path(tmp) as host:
            invalid = cri.Mount(
                host_path=str(host),
                container_path="/mnt",
                recursive_read_only=True,
                selinux_relabel=True,
                **mount,  # type: ignore[arg-type]
            )
            with pytest.raises(grpc.RpcError):
                fw.create_container(c, mount_container_config([invalid]), pod_id, pod)


@fw.on_both()
def test_non_recursive_readonly_mounts(c: fw.Endpoint, tmp_path: Path) -> None:
    """should support non-recursive readonly mounts"""
    check_rro(c, tmp_path, rro=False)


@fw.on_both()
def test_recursive_readonly_mounts(c: fw.Endpoint, tmp_path: Path) -> None:
    """should support recursive readonly mounts"""
    check_rro(c, tmp_path, rro=True)


@fw.on_both()
def test_rro_rejects_host_to_container(c: fw.Endpoint, tmp_path: Path) -> None:
    """should reject a recursive readonly mount with PROPAGATION_HOST_TO_CONTAINER"""
    check_rro_rejected(c, tmp_path, readonly=True, propagation=cri.PROPAGATION_HOST_TO_CONTAINER)


@fw.on_both()
def test_rro_rejects_bidirectional(c: fw.Endpoint, tmp_path: Path) -> None:
    """should reject a recursive readonly mount with PROPAGATION_BIDIRECTIONAL"""
    check_rro_rejected(c, tmp_path, readonly=True, propagation=cri.PROPAGATION_BIDIRECTIONAL)


@fw.on_both()
def test_rro_rejects_read_write(c: fw.Endpoint, tmp_path: Path) -> None:
    """should reject a recursive readonly mount with ReadOnly: false"""
    check_rro_rejected(c, tmp_path, readonly=False)
