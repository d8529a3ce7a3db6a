"""cri-tools `pkg/validate/pod.go` and `pod_linux.go`: "PodSandbox" — basic operations,
attributes, metrics, sysctls."""

from __future__ import annotations

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri

from tests.conformance import framework as fw

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]

# the metrics kubelet's cadvisor-less stats provider expects (pod.go)
EXPECTED_METRIC_DESCRIPTORS = (
    "container_blkio_device_usage_total",
    "container_cpu_cfs_periods_total",
    "container_cpu_cfs_throttled_periods_total",
    "container_cpu_cfs_throttled_seconds_total",
    "container_cpu_system_seconds_total",
    "container_cpu_usage_seconds_total",
    "container_cpu_user_seconds_total",
    "container_file_descriptors",
    "container_fs_inodes_free",
    "container_fs_inodes_total",
    "container_fs_limit_bytes",
    "container_fs_reads_bytes_total",
    "container_fs_reads_total",
    "container_fs_usage_bytes",
    "container_fs_writes_bytes_total",
    "container_fs_writes_total",
    "container_hugetlb_max_usage_bytes",
    "container_hugetlb_usage_bytes",
    "container_last_seen",
    "container_memory_cache",
    "container_memory_failcnt",
    "container_memory_failures_total",
    "container_memory_kernel_usage",
    "container_memory_mapped_file",
    "container_memory_max_usage_bytes",
    "container_memory_rss",
    "container_memory_swap",
    "container_memory_usage_bytes",
    "container_memory_working_set_bytes",
    "container_network_receive_bytes_total",
    "container_network_receive_errors_total",
    "container_network_receive_packets_dropped_total",
    "container_network_receive_packets_total",
    "container_network_transmit_bytes_total",
    "container_network_transmit_errors_total",
    "container_network_transmit_packets_dropped_total",
    "container_network_transmit_packets_total",
    "container_oom_events_total",
    "container_pressure_cpu_stalled_seconds_total",
    "container_pressure_cpu_waiting_seconds_total",
    "container_pressure_io_stalled_seconds_total",
    "container_pressure_io_waiting_seconds_total",
    "container_pressure_memory_stalled_seconds_total",
    "container_pressure_memory_waiting_seconds_total",
    "container_processes",
    "container_sockets",
    "container_spec_cpu_period",
    "container_spec_cpu_quota",
    "container_spec_cpu_shares",
    "container_spec_memory_limit_bytes",
    "container_spec_memory_reservation_limit_bytes",
    "container_spec_memory_swap_limit_bytes",
    "container_start_time_seconds",
    "container_threads",
    "container_threads_max",
    "container_ulimits_soft",
)
# not yet implemented by every runtime (upstream's list)
UNIMPLEMENTED_METRIC_DESCRIPTORS = frozenset(
    {
        "container_hugetlb_max_usage_bytes",
        "container_hugetlb_usage_bytes",
        "container_pressure_cpu_stalled_seconds_total",
        "container_pressure_cpu_waiting_seconds_total",
        "container_pressure_io_stalled_seconds_total",
        "container_pressure_io_waiting_seconds_total",
        "container_pressure_memory_stalled_seconds_total",
        "container_pressure_memory_waiting_seconds_total",
        "container_spec_cpu_quota",
        "container_spec_memory_reservation_limit_bytes",
        "container_ulimits_soft",
    }
)
# values that may be missing where blkio accounting does not work
OPTIONAL_METRIC_VALUES = frozenset(
    {
        "container_blkio_device_usage_total",
        "container_fs_reads_bytes_total",
        "container_fs_reads_total",
        "container_fs_writes_bytes_total",
        "container_fs_writes_total",
    }
)


def listed(c: fw.Endpoint, pod_id: str) -> bool:
    return any(p.id == pod_id for p in fw.list_pod_sandbox(c, cri.PodSandboxFilter(id=pod_id)))


def expect_subset(got: dict[str, str], wanted: dict[str, str]) -> None:
    assert {k: got.get(k) for k in wanted} == wanted, got


# --- runtime should support basic operations on PodSandbox ---------------------------------


@fw.on_both()
def test_running_pod_sandbox(c: fw.Endpoint) -> None:
    """runtime should support running PodSandbox [Conformance]"""
    pod_id = fw.run_default_pod_sandbox(c, "PodSandbox-for-create-test-")
    assert fw.pod_sandbox_status(c, pod_id).state == cri.SANDBOX_READY
    assert listed(c, pod_id), "PodSandbox should be listed"
    fw.cleanup_pod_sandbox(c, pod_id)


@fw.on_both()
def test_stopping_pod_sandbox(c: fw.Endpoint) -> None:
    """runtime should support stopping PodSandbox [Conformance]"""
    pod_id = fw.run_default_pod_sandbox(c, "PodSandbox-for-test-stop-")
    fw.stop_pod_sandbox(c, pod_id)
    assert fw.pod_sandbox_status(c, pod_id).state == cri.SANDBOX_NOTREADY
    fw.cleanup_pod_sandbox(c, pod_id)


@fw.on_both()
def test_removing_pod_sandbox(c: fw.Endpoint) -> None:
    """runtime should support removing PodSandbox [Conformance]"""
    pod_id = fw.run_default_pod_sandbox(c, "PodSandbox-for-test-remove-")
    fw.stop_pod_sandbox(c, pod_id)
    fw.remove_pod_sandbox(c, pod_id)
    assert not listed(c, pod_id), "PodSandbox should be removed"


@fw.on_both()
def test_preserving_pod_sandbox_attributes(c: fw.Endpoint) -> None:
    """runtime should support preserving PodSandbox attributes [Conformance]"""
    name = "PodSandbox-with-attributes-" + fw.new_uuid()
    metadata = fw.pod_metadata(name)
    labels = {
        "foo": "bar",
        "io.kubernetes.pod.name": name,
        "io.kubernetes.pod.namespace": metadata.namespace,
        "io.kubernetes.pod.uid": metadata.uid,
    }
    annotations = {"abc": "def"}
    config = cri.PodSandboxConfig(
        metadata=metadata,
        labels=labels,
        annotations=annotations,
        linux=cri.LinuxPodSandboxConfig(cgroup_parent=fw.cgroup_parent(c)),
    )
    pod_id = fw.run_pod_sandbox(c, config)

    status = fw.pod_sandbox_status(c, pod_id)
    assert status.metadata == metadata
    expect_subset(dict(status.labels), labels)
    expect_subset(dict(status.annotations), annotations)

    pods = fw.list_pod_sandbox(c, cri.PodSandboxFilter(id=pod_id))
    assert len(pods) == 1
    assert pods[0].metadata == metadata
    expect_subset(dict(pods[0].labels), labels)
    expect_subset(dict(pods[0].annotations), annotations)
    fw.cleanup_pod_sandbox(c, pod_id)


# --- runtime should support metrics operations ------------------------------------------------


def metric_descriptors_or_skip(c: fw.Endpoint) -> list[cri.MetricDescriptor]:
    """The BeforeEach: a runtime that answers Unimplemented does not support CRI metrics."""
    try:
        reply = c.runtime.ListMetricDescriptors(
            cri.ListMetricDescriptorsRequest(), timeout=fw.RPC_TIMEOUT
        )
    except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.UNIMPLEMENTED:
            pytest.skip("CRI Metrics endpoints not supported by this runtime version")
        raise
    return list(reply.descriptors)


@fw.on_both()
def test_metric_descriptors(c: fw.Endpoint) -> None:
    """runtime should support returning metrics descriptors [Conformance]"""
    descriptors = metric_descriptors_or_skip(c)
    for d in descriptors:
        assert d.help, f"metric descriptor {d.name} should have help text"
        assert d.label_keys, f"metric descriptor {d.name} should have label keys"
    names = {d.name for d in descriptors}
    missing = [
        n
        for n in EXPECTED_METRIC_DESCRIPTORS
        if n not in names and n not in UNIMPLEMENTED_METRIC_DESCRIPTORS
    ]
    assert not missing, f"expected metrics not present: {missing}"


@fw.on_both()
def test_pod_sandbox_metrics(c: fw.Endpoint) -> None:
    """runtime should support listing pod sandbox metrics [Conformance]"""
    metric_descriptors_or_skip(c)
    pod_id, pod = fw.create_pod_sandbox_for_container(c)
    config = fw.container_config(
        "container-for-metrics-",
        linux=cri.LinuxContainerConfig(
            resources=cri.LinuxContainerResources(
                cpu_period=100000,
                cpu_quota=20000,
                cpu_shares=1024,
                memory_limit_in_bytes=64 * 1024 * 1024,
                memory_swap_limit_in_bytes=64 * 1024 * 1024,
            )
        ),
    )
    container_id = fw.create_container(c, config, pod_id, pod)
    fw.start_container(c, container_id)
    write = (
        "mkdir -p /var/lib/mydisktest && for i in $(seq 1 10); "
        "do echo hi >> /var/lib/mydisktest/inode_test_file_$i; done; sync"
    )
    assert fw.exec_sync(c, container_id, ["/bin/sh", "-c", write]).exit_code == 0

    descriptors = metric_descriptors_or_skip(c)
    reply = c.runtime.ListPodSandboxMetrics(
        cri.ListPodSandboxMetricsRequest(), timeout=fw.RPC_TIMEOUT
    )
    mine = [m for m in reply.pod_metrics if m.pod_sandbox_id == pod_id]
    assert mine, f"metrics for pod {pod_id} should be present"
    found: dict[str, list[str]] = {}
    for metric in [*mine[0].metrics, *(m for cm in mine[0].container_metrics for m in cm.metrics)]:
        if not found.get(metric.name):
            found[metric.name] = list(metric.label_values)
    skippable = OPTIONAL_METRIC_VALUES | UNIMPLEMENTED_METRIC_DESCRIPTORS
    missing = [n for n in EXPECTED_METRIC_DESCRIPTORS if not found.get(n) and n not in skippable]
    assert not missing, f"expected metrics not present: {missing}"
    mismatched = [
        d.name
        for d in descriptors
        if (d.name not in found and d.name not in skippable)
        or (d.name in found and len(found[d.name]) != len(d.label_keys))
    ]
    assert not mismatched, f"labels differ between descriptors and metrics: {mismatched}"
    fw.cleanup_pod_sandbox(c, pod_id)


# --- runtime should support sysctls (pod_linux.go) --------------------------------------------


def check_sysctl(
    c: fw.Endpoint, sysctls: dict[str, str], prefix: str, path: str, value: str
) -> None:
    """createSandboxWithSysctls, a default container started, checkSetSysctls."""
    pod = fw.pod_config(
        c, "pod-sandbox-with-sysctls-", linux=cri.LinuxPodSandboxConfig(sysctls=sysctls)
    )
    pod_id = fw.run_pod_sandbox(c, pod)
    container_id = fw.create_default_container(c, pod_id, pod, prefix)
    fw.start_container(c, container_id)
    reply = fw.exec_sync(c, container_id, ["cat", path])
    assert reply.exit_code == 0, reply
    assert reply.stdout.decode().strip() == value
    fw.cleanup_pod_sandbox(c, pod_id)


@fw.on_both()
def test_safe_sysctls(c: fw.Endpoint) -> None:
    """should support safe sysctls"""
    sysctls = {"kernel.shm_rmid_forced": "1"}
    path = "/proc/sys/kernel/shm_rmid_forced"
    check_sysctl(c, sysctls, "container-shm-rmid-forced", path, "1")


@fw.on_both()
def test_unsafe_sysctls(c: fw.Endpoint) -> None:
    """should support unsafe sysctls"""
    sysctls = {"fs.mqueue.msg_max": "100"}
    path = "/proc/sys/fs/mqueue/msg_max"
    check_sysctl(c, sysctls, "container-fs-mqueue-msg-max", path, "100")
