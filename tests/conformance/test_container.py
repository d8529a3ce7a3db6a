"""cri-tools `pkg/validate/container.go`: "Container" — basic operations, exec, stats, volumes
and logs."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri

from tests.conformance import framework as fw

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]


# --- runtime should support basic operations on container -----------------------------------


@fw.on_both()
def test_creating_container(c: fw.Endpoint) -> None:
    """runtime should support creating container [Conformance]"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        container_id = fw.create_default_container(c, pod_id, pod, "container-for-create-")
        assert fw.container_found(c, container_id), "Container should be created"


@fw.on_both()
def test_starting_container(c: fw.Endpoint) -> None:
    """runtime should support starting container [Conformance]"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        container_id = fw.create_default_container(c, pod_id, pod, "container-for-start-test-")
        fw.start_container_running(c, container_id)


@fw.on_both()
def test_stopping_container(c: fw.Endpoint) -> None:
    """runtime should support stopping container [Conformance]"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        container_id = fw.create_default_container(c, pod_id, pod, "container-for-stop-test-")
        fw.start_container(c, container_id)
        fw.stop_container_exited(c, container_id)


@fw.on_both()
def test_removing_created_container(c: fw.Endpoint) -> None:
    """runtime should support removing created container [Conformance]"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        prefix = "container-for-remove-created-test-"
        container_id = fw.create_pause_container(c, pod_id, pod, prefix)
        fw.remove_container(c, container_id)
        assert not fw.container_found(c, container_id), "Container should be removed"


@fw.on_both()
def test_removing_running_container(c: fw.Endpoint) -> None:
    """runtime should support removing running container [Conformance]"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        prefix = "container-for-remove-running-test-"
        container_id = fw.create_pause_container(c, pod_id, pod, prefix)
        fw.start_container(c, container_id)
        fw.remove_container(c, container_id)
        assert not fw.container_found(c, container_id), "Container should be removed"


@fw.on_both()
def test_removing_stopped_container(c: fw.Endpoint) -> None:
    """runtime should support removing stopped container [Conformance]"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        prefix = "container-for-remove-stopped-test-"
        container_id = fw.create_pause_container(c, pod_id, pod, prefix)
        fw.start_container(c, container_id)
        fw.stop_container_exited(c, container_id)
        fw.remove_container(c, container_id)
        assert not fw.container_found(c, container_id), "Container should be removed"


@fw.on_both()
def test_exec_sync(c: fw.Endpoint) -> None:
    """runtime should support execSync [Conformance]"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        container_id = fw.create_default_container(c, pod_id, pod, "container-for-execSync-test-")
        fw.start_container(c, container_id)
        assert fw.exec_sync_container(c, container_id, fw.ECHO_HELLO_CMD) == fw.ECHO_HELLO_OUTPUT


@fw.on_both()
def test_exec_sync_with_timeout(c: fw.Endpoint) -> None:
    """runtime should support execSync with timeout [Conformance]"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        prefix = "container-for-execSync-timeout-test-"
        container_id = fw.create_default_container(c, pod_id, pod, prefix)
        fw.start_container(c, container_id)
        with pytest.raises(grpc.RpcError):
            fw.exec_sync(c, container_id, fw.SLEEP_CMD, timeout=1)
        # the timed-out exec process is gone
        reply = fw.exec_sync(c, container_id, fw.CHECK_SLEEP_CMD)
        assert reply.exit_code == 0, reply
        assert reply.stderr == b""
        assert reply.stdout.strip() == b""


def stats_found(stats: list[cri.ContainerStats], container_id: str) -> bool:
    return any(s.attributes.id == container_id for s in stats)


def list_container_stats(
    c: fw.Endpoint, flt: cri.ContainerStatsFilter | None = None
) -> list[cri.ContainerStats]:
    request = cri.ListContainerStatsRequest(filter=flt)
    return list(c.runtime.ListContainerStats(request, timeout=fw.RPC_TIMEOUT).stats)


@fw.on_both()
def test_container_stats(c: fw.Endpoint) -> None:
    """runtime should support listing container stats [Conformance]"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        container_id = fw.create_default_container(c, pod_id, pod, "container-for-stats-")
        fw.start_container(c, container_id)
        request = cri.ContainerStatsRequest(container_id=container_id)
        stats = c.runtime.ContainerStats(request, timeout=fw.RPC_TIMEOUT).stats
        assert stats.attributes.id == container_id
        assert "container-for-stats-" in stats.attributes.metadata.name
        assert stats.cpu.timestamp != 0
        assert stats.memory.timestamp != 0


@fw.on_both()
def test_stats_for_started_containers(c: fw.Endpoint) -> None:
    """runtime should support listing stats for started containers [Conformance]"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        container_id = fw.create_default_container(c, pod_id, pod, "container-for-stats-")
        fw.start_container(c, container_id)
        stats = list_container_stats(c, cri.ContainerStatsFilter(id=container_id))
        assert stats_found(stats, container_id), "Container should be created"


@fw.on_both()
def test_stats_for_started_containers_nil_filter(c: fw.Endpoint) -> None:
    """runtime should support listing stats for started containers when filter is nil
    [Conformance]"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        prefix = "container-for-stats-with-nil-filter-"
        container_id = fw.create_default_container(c, pod_id, pod, prefix)
        fw.start_container(c, container_id)
        assert stats_found(list_container_stats(c), container_id), "Stats should be found"


@fw.on_both()
def test_stats_for_three_containers_nil_filter(c: fw.Endpoint) -> None:
    """runtime should support listing stats for three created containers when filter is nil.
    [Conformance]"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        prefix = "container-for-stats-with-nil-filter-"
        ids = [fw.create_default_container(c, pod_id, pod, prefix) for _ in range(3)]
        for container_id in ids:
            fw.start_container(c, container_id)
        stats = list_container_stats(c)
        for container_id in ids:
            assert stats_found(stats, container_id), "Stats should be found"


@fw.on_both()
def test_stats_filtered_by_labels(c: fw.Endpoint) -> None:
    """runtime should support listing stats for containers filtered by labels [Conformance]"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        labels = {"foo": "bar"}
        prefix = "container-for-stats-with-labels-"
        container_id = fw.create_default_container(c, pod_id, pod, prefix, labels)
        fw.start_container(c, container_id)
        stats = list_container_stats(c, cri.ContainerStatsFilter(label_selector=labels))
        assert stats_found(stats, container_id), "Container should be found"
        other = cri.ContainerStatsFilter(label_selector={"foo": "baz"})
        assert not stats_found(list_container_stats(c, other), container_id), (
            "Container should be filtered"
        )


# --- runtime should support adding volume and device -----------------------------------------


def create_host_path(tmp: Path, pod_id: str) -> Path:
    """A host dir holding a flag file."""
    host_path = tmp / f"test{pod_id}"
    host_path.mkdir()
    (host_path / "testVolume.file").touch()
    return host_path


def create_volume_container(
    c: fw.Endpoint, prefix: str, pod_id: str, pod: cri.PodSandboxConfig, host_path: Path
) -> str:
    """The host path mounted at the same path in the container."""
    config = fw.container_config(
        prefix,
        command=fw.DEFAULT_PAUSE_COMMAND,
        mounts=[
            cri.Mount(host_path=str(host_path), container_path=str(host_path), selinux_relabel=True)
        ],
    )
    return fw.create_container(c, config, pod_id, pod)


@fw.on_both()
def test_container_with_volume(c: fw.Endpoint, tmp_path: Path) -> None:
    """runtime should support starting container with volume [Conformance]"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        host_path = create_host_path(tmp_path, pod_id)
        prefix = "container-with-volume-test-"
        container_id = create_volume_container(c, prefix, pod_id, pod, host_path)
        fw.start_container_running(c, container_id)
        assert fw.exec_sync_container(c, container_id, ["ls", "-A", str(host_path)])


@fw.on_both()
def test_container_with_symlink_volume(c: fw.Endpoint, tmp_path: Path) -> None:
    """runtime should support starting container with volume when host path is a symlink
    [Conformance]"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        host_path = create_host_path(tmp_path, pod_id)
        symlink = host_path.with_name(host_path.name + "-symlink")
        symlink.symlink_to(host_path)
        prefix = "container-with-symlink-host-path-test-"
        container_id = create_volume_container(c, prefix, pod_id, pod, symlink)
        fw.start_container_running(c, container_id)
        assert fw.exec_sync_container(c, container_id, ["ls", "-A", str(symlink)])


# --- runtime should support log ----------------------------------------------------------------


def pod_with_log_directory(c: fw.Endpoint, tmp: Path) -> cri.PodSandboxConfig:
    """createPodSandboxWithLogDirectory."""
    config = fw.pod_config(c, "PodSandbox-with-log-directory-")
    config.log_directory = str(fw.log_directory(tmp, config.metadata.name))
    return config


def create_log_container(
    c: fw.Endpoint, prefix: str, command: list[str], pod_id: str, pod: cri.PodSandboxConfig
) -> tuple[Path, str]:
    config = fw.container_config(prefix, command=command)
    config.log_path = config.metadata.name + ".log"
    container_id = fw.create_container(c, config, pod_id, pod)
    return Path(pod.log_directory) / config.log_path, container_id


@fw.on_both()
def test_container_with_log(c: fw.Endpoint, tmp_path: Path) -> None:
    """runtime should support starting container with log [Conformance]"""
    with fw.pod_sandbox(c, pod_with_log_directory(c, tmp_path)) as (pod_id, pod):
        log, container_id = create_log_container(
            c, "container-with-log-test-", fw.LOG_DEFAULT_CMD, pod_id, pod
        )
        fw.start_container(c, container_id)
        fw.wait_container_state(c, container_id, cri.CONTAINER_EXITED)
        fw.verify_log_contents(log, fw.DEFAULT_LOG + "\n", "stdout")


@fw.on_both()
def test_reopening_container_log(c: fw.Endpoint, tmp_path: Path) -> None:
    """runtime should support reopening container log [Conformance]"""
    with fw.pod_sandbox(c, pod_with_log_directory(c, tmp_path)) as (pod_id, pod):
        log, container_id = create_log_container(
            c, "container-reopen-log-test-", fw.LOOP_LOG_DEFAULT_CMD, pod_id, pod
        )
        fw.start_container(c, container_id)
        # the log is read at once: a log file not there yet fails the spec, as upstream
        fw.eventually(lambda: fw.parse_log_lines(log), bool, fw.MINUTE, fw.SECOND)

        rotated = log.with_name(log.name + ".new")
        log.rename(rotated)
        request = cri.ReopenContainerLogRequest(container_id=container_id)
        c.runtime.ReopenContainerLog(request, timeout=fw.RPC_TIMEOUT)
        assert log.exists(), "new container log file should be created"
        fw.eventually(lambda: fw.parse_log_lines(log), bool, fw.MINUTE, fw.SECOND)
        old_length = len(fw.parse_log_lines(rotated))
        fw.consistently(
            lambda: len(fw.parse_log_lines(rotated)),
            lambda n: n == old_length,
            5 * fw.SECOND,
            fw.SECOND,
        )
