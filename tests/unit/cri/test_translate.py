"""CRI protobuf ↔ domain translation: every field carried, missing messages rejected cleanly."""

from __future__ import annotations

import json

import pytest
from cri_api.v1 import api_pb2 as cri

from adapters.cri import from_cri, signals, to_cri
from domain.errors import InvalidArgument
from domain.filters import ContainerFilter, SandboxFilter
from domain.model import (
    Container,
    ContainerEvent,
    ContainerEventType,
    ContainerState,
    ContainerStats,
    FilesystemUsage,
    Image,
    ImageConfig,
    InterfaceStats,
    LinuxResources,
    NamespaceMode,
    PodStats,
    Propagation,
    Protocol,
    Sandbox,
    SandboxState,
)

RESOURCES = cri.LinuxContainerResources(
    cpu_period=100000,
    cpu_quota=50000,
    cpu_shares=512,
    memory_limit_in_bytes=64 << 20,
    memory_swap_limit_in_bytes=128 << 20,
    oom_score_adj=500,
    cpuset_cpus="0-1",
    cpuset_mems="0",
    hugepage_limits=[cri.HugepageLimit(page_size="2MB", limit=4 << 20)],
    unified={"memory.high": "1000000"},
)


def full_pod() -> cri.PodSandboxConfig:
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name="web", uid="u1", namespace="ns", attempt=2),
        hostname="web-0",
        log_directory="/var/log/pods/ns_web_u1",
        dns_config=cri.DNSConfig(servers=["10.0.0.10"], searches=["ns.svc"], options=["ndots:5"]),
        port_mappings=[
            cri.PortMapping(protocol=cri.UDP, container_port=53, host_port=5353, host_ip="0.0.0.0")
        ],
        labels={"app": "web"},
        annotations={"note": "x"},
        linux=cri.LinuxPodSandboxConfig(
            cgroup_parent="/kubepods/pod-u1",
            security_context=cri.LinuxSandboxSecurityContext(
                namespace_options=cri.NamespaceOption(network=cri.NODE, pid=cri.POD, ipc=cri.POD),
                run_as_user=cri.Int64Value(value=0),
                readonly_rootfs=True,
                supplemental_groups=[5, 6],
                privileged=True,
                seccomp=cri.SecurityProfile(profile_type=cri.SecurityProfile.RuntimeDefault),
            ),
            sysctls={"net.ipv4.ip_forward": "1"},
            overhead=RESOURCES,
        ),
    )


def full_container() -> cri.ContainerConfig:
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name="app", attempt=1),
        image=cri.ImageSpec(image="busybox:1.36"),
        command=["sh"],
        args=["-c", "true"],
        working_dir="/w",
        envs=[cri.KeyValue(key="A", value="1"), cri.KeyValue(key="A", value="2")],
        mounts=[
            cri.Mount(
                container_path="/data",
                host_path="/srv/data",
                readonly=True,
                selinux_relabel=True,
                propagation=cri.PROPAGATION_BIDIRECTIONAL,
            )
        ],
        devices=[cri.Device(container_path="/dev/fuse", host_path="/dev/fuse")],
        labels={"tier": "front"},
        annotations={"a": "b"},
        log_path="app/1.log",
        stdin=True,
        stdin_once=True,
        tty=True,
        linux=cri.LinuxContainerConfig(
            resources=RESOURCES,
            security_context=cri.LinuxContainerSecurityContext(
                capabilities=cri.Capability(
                    add_capabilities=["NET_ADMIN"],
                    drop_capabilities=["ALL"],
                    add_ambient_capabilities=["NET_BIND_SERVICE"],
                ),
                namespace_options=cri.NamespaceOption(pid=cri.TARGET, target_id="abc"),
                run_as_user=cri.Int64Value(value=1000),
                run_as_group=cri.Int64Value(value=0),
                run_as_username="",
                readonly_rootfs=True,
                supplemental_groups=[7],
                no_new_privs=True,
                masked_paths=["/proc/kcore"],
                readonly_paths=["/proc/sys"],
                seccomp=cri.SecurityProfile(
                    profile_type=cri.SecurityProfile.Localhost, localhost_ref="/p.json"
                ),
                apparmor_profile="runtime/default",
            ),
        ),
        stop_signal=cri.SIGQUIT,
    )


def test_sandbox_config_carries_every_field() -> None:
    config = from_cri.sandbox_config(full_pod())
    m = config.metadata
    assert (m.name, m.uid, m.namespace, m.attempt) == ("web", "u1", "ns", 2)
    assert config.reserved_name() == "web_ns_u1_2"
    assert (config.hostname, config.log_directory) == ("web-0", "/var/log/pods/ns_web_u1")
    assert config.dns_config is not None and config.dns_config.options == ("ndots:5",)
    (port,) = config.port_mappings
    assert (port.protocol, port.container_port, port.host_port) == (Protocol.UDP, 53, 5353)
    assert config.labels == {"app": "web"} and config.annotations == {"note": "x"}
    assert config.cgroup_parent == "/kubepods/pod-u1"
    assert config.host_network
    sec = config.security
    assert sec.namespace_options.pid == NamespaceMode.POD
    assert (sec.run_as_user, sec.run_as_group) == (0, None)  # 0 is set, not "unset"
    assert sec.readonly_rootfs and sec.privileged and sec.supplemental_groups == (5, 6)
    assert sec.seccomp.kind == "RuntimeDefault"
    assert config.sysctls == {"net.ipv4.ip_forward": "1"}
    assert config.overhead is not None and config.overhead.cpu_shares == 512
    assert config.resources is None


def test_minimal_sandbox_config_has_domain_defaults() -> None:
    msg = cri.PodSandboxConfig(metadata=cri.PodSandboxMetadata(name="a", uid="b", namespace="c"))
    config = from_cri.sandbox_config(msg)
    assert config.dns_config is None and config.overhead is None
    assert not config.host_network
    assert config.security.seccomp.kind == "Unconfined"  # unset means unconfined, as in CRI


def test_container_config_carries_every_field() -> None:
    config = from_cri.container_config(full_container())
    assert (config.metadata.name, config.metadata.attempt, config.image) == (
        "app",
        1,
        "busybox:1.36",
    )
    assert (config.command, config.args, config.working_dir) == (("sh",), ("-c", "true"), "/w")
    assert [(e.key, e.value) for e in config.envs] == [("A", "1"), ("A", "2")]  # order kept
    (mount,) = config.mounts
    assert mount.readonly and mount.selinux_relabel
    assert mount.propagation == Propagation.BIDIRECTIONAL
    (device,) = config.devices
    assert device.permissions == "rwm"  # the CRI's empty permissions default
    assert (config.stdin, config.stdin_once, config.tty) == (True, True, True)
    assert config.log_path == "app/1.log"
    r = config.resources
    assert r is not None
    assert (r.cpu_period, r.cpu_quota, r.memory_swap_limit_in_bytes) == (100000, 50000, 128 << 20)
    assert r.hugepage_limits[0].limit == 4 << 20 and r.unified == {"memory.high": "1000000"}
    s = config.security
    assert s.capabilities.add == ("NET_ADMIN",) and s.capabilities.drop == ("ALL",)
    assert s.capabilities.add_ambient == ("NET_BIND_SERVICE",)
    assert s.namespace_options.pid == NamespaceMode.TARGET
    assert s.namespace_options.target_id == "abc"
    assert (s.run_as_user, s.run_as_group) == (1000, 0)
    assert s.no_new_privs and s.readonly_rootfs
    assert s.masked_paths == ("/proc/kcore",) and s.readonly_paths == ("/proc/sys",)
    assert (s.seccomp.kind, s.seccomp.localhost_ref) == ("Localhost", "/p.json")
    assert s.apparmor.kind == "RuntimeDefault"  # from the deprecated string field
    assert config.stop_signal == "SIGQUIT"


@pytest.mark.parametrize(
    "build",
    [
        lambda: from_cri.sandbox_config(cri.PodSandboxConfig()),
        lambda: from_cri.container_config(cri.ContainerConfig()),
        lambda: from_cri.container_config(
            cri.ContainerConfig(metadata=cri.ContainerMetadata(name="x"))
        ),
        lambda: from_cri.namespace_options(cri.NamespaceOption(network=7)),  # type: ignore[arg-type]
        lambda: from_cri.mount(cri.Mount(container_path="/a", propagation=9)),  # type: ignore[arg-type]
        lambda: from_cri.port_mapping(cri.PortMapping(protocol=5)),  # type: ignore[arg-type]
        lambda: from_cri.port_mapping(cri.PortMapping(container_port=70000)),
        lambda: from_cri.security_profile(
            cri.SecurityProfile(profile_type=cri.SecurityProfile.Localhost), "seccomp"
        ),
        lambda: from_cri.security_profile(cri.SecurityProfile(profile_type=8), "seccomp"),  # type: ignore[arg-type]
        lambda: from_cri.container_security(
            cri.LinuxContainerSecurityContext(seccomp_profile_path="bogus")
        ),
        lambda: from_cri.sandbox_filter(
            cri.PodSandboxFilter(state=cri.PodSandboxStateValue(state=4))  # type: ignore[arg-type]
        ),
        lambda: from_cri.container_filter(
            cri.ContainerFilter(state=cri.ContainerStateValue(state=9))  # type: ignore[arg-type]
        ),
        lambda: signals.to_domain(999),
    ],
)
def test_malformed_messages_are_invalid_arguments(build: object) -> None:
    with pytest.raises(InvalidArgument):
        build()  # type: ignore[operator]


def test_deprecated_profile_strings() -> None:
    def seccomp(path: str) -> tuple[str, str]:
        sec = from_cri.container_security(
            cri.LinuxContainerSecurityContext(seccomp_profile_path=path)
        )
        return sec.seccomp.kind, sec.seccomp.localhost_ref

    assert seccomp("") == ("Unconfined", "")
    assert seccomp("unconfined") == ("Unconfined", "")
    assert seccomp("runtime/default") == ("RuntimeDefault", "")
    assert seccomp("docker/default") == ("RuntimeDefault", "")
    assert seccomp("localhost//etc/p.json") == ("Localhost", "/etc/p.json")


def test_filters() -> None:
    assert from_cri.sandbox_filter(cri.PodSandboxFilter()) == SandboxFilter()
    f = from_cri.sandbox_filter(
        cri.PodSandboxFilter(
            id="ab",
            state=cri.PodSandboxStateValue(state=cri.SANDBOX_NOTREADY),
            label_selector={"a": "1"},
        )
    )
    assert f == SandboxFilter(id="ab", state=SandboxState.NOTREADY, label_selector={"a": "1"})
    # state 0 is READY when the wrapper is present, "any" when it is absent
    f = from_cri.sandbox_filter(cri.PodSandboxFilter(state=cri.PodSandboxStateValue()))
    assert f.state == SandboxState.READY
    c = from_cri.container_filter(
        cri.ContainerFilter(
            id="c",
            pod_sandbox_id="s",
            state=cri.ContainerStateValue(state=cri.CONTAINER_EXITED),
            label_selector={"k": ""},
        )
    )
    assert c == ContainerFilter(
        id="c", sandbox_id="s", state=ContainerState.EXITED, label_selector={"k": ""}
    )
    stats = from_cri.container_filter(cri.ContainerStatsFilter(id="c", pod_sandbox_id="s"))
    assert stats == ContainerFilter(id="c", sandbox_id="s")
    assert from_cri.sandbox_filter(cri.PodSandboxStatsFilter(id="x")) == SandboxFilter(id="x")


def test_auth_config() -> None:
    auth = from_cri.auth_config(
        cri.AuthConfig(username="u", password="p", server_address="r.io", registry_token="t")
    )
    assert (auth.username, auth.password, auth.server_address, auth.registry_token) == (
        "u",
        "p",
        "r.io",
        "t",
    )


@pytest.mark.parametrize("value", list(cri.Signal.values()))
def test_every_stop_signal_round_trips(value: int) -> None:
    name = signals.to_domain(value)
    back = signals.to_cri(name)
    # aliases (SIGCLD, SIGIOT, SIGPOLL) come back as their canonical name, same number
    assert signals.to_domain(back) == name or cri.Signal.Name(back) != cri.Signal.Name(value)
    if value == cri.RUNTIME_DEFAULT:
        assert name == "" and back == cri.RUNTIME_DEFAULT
    elif cri.Signal.Name(value) in ("SIGTERM", "SIGKILL", "SIGRTMIN", "SIGRTMAX"):
        assert back == value


def test_realtime_signals_become_numbers() -> None:
    assert signals.to_domain(cri.SIGRTMINPLUS1) == "35"
    assert signals.to_domain(cri.SIGRTMAX) == "64"
    assert signals.to_cri("35") == cri.SIGRTMINPLUS1
    assert signals.to_cri("bogus") == cri.RUNTIME_DEFAULT


# --- domain → CRI ---------------------------------------------------------------------------


def sandbox(ips: tuple[str, ...] = ("10.88.0.2", "fd00::2", "10.99.0.2")) -> Sandbox:
    return Sandbox(
        id="s" * 64,
        config=from_cri.sandbox_config(full_pod()),
        runtime_handler="runc",
        state=SandboxState.READY,
        created_at=123,
        ips=ips,
        pid=42,
    )


def test_pod_sandbox_status_round_trip() -> None:
    status = to_cri.pod_sandbox_status(sandbox())
    assert status.id == "s" * 64 and status.state == cri.SANDBOX_READY
    assert status.metadata == full_pod().metadata
    assert status.network.ip == "10.88.0.2"
    assert [p.ip for p in status.network.additional_ips] == ["fd00::2", "10.99.0.2"]
    assert status.linux.namespaces.options == full_pod().linux.security_context.namespace_options
    assert dict(status.labels) == {"app": "web"} and dict(status.annotations) == {"note": "x"}
    assert (status.runtime_handler, status.created_at) == ("runc", 123)
    assert to_cri.pod_sandbox_status(sandbox(ips=())).network.ip == ""
    listed = to_cri.pod_sandbox(sandbox())
    assert (listed.id, listed.runtime_handler, dict(listed.labels)) == (
        "s" * 64,
        "runc",
        {"app": "web"},
    )
    info = json.loads(to_cri.sandbox_info(sandbox())["info"])
    assert info["pid"] == 42 and info["config"]["metadata"]["name"] == "web"
    assert info["reconciling"] is False
    assert json.loads(to_cri.sandbox_info(sandbox(), True)["info"])["reconciling"] is True


def container(**kw: object) -> Container:
    return Container(
        id="c" * 64,
        sandbox_id="s" * 64,
        config=from_cri.container_config(full_container()),
        image_id="sha256:" + "a" * 64,
        image_ref="docker.io/library/busybox@sha256:" + "b" * 64,
        **kw,  # type: ignore[arg-type]
    )


def test_container_status_round_trip() -> None:
    c = container(
        state=ContainerState.EXITED,
        created_at=1,
        started_at=2,
        finished_at=3,
        exit_code=137,
        reason="OOMKilled",
        message="out of memory",
        resources=LinuxResources(cpu_shares=2, memory_limit_in_bytes=1 << 20),
    )
    image = Image(id=c.image_id, repo_tags=("docker.io/library/busybox:1.36",))
    status = to_cri.container_status(c, sandbox(), image)
    assert status.state == cri.CONTAINER_EXITED
    assert (status.created_at, status.started_at, status.finished_at) == (1, 2, 3)
    assert (status.exit_code, status.reason, status.message) == (137, "OOMKilled", "out of memory")
    assert status.image.image == "docker.io/library/busybox:1.36"
    assert status.image.user_specified_image == "busybox:1.36"
    assert (status.image_id, status.image_ref) == (c.image_id, c.image_ref)
    assert status.log_path == "/var/log/pods/ns_web_u1/app/1.log"
    assert status.mounts[0] == full_container().mounts[0]
    assert status.resources.linux.cpu_shares == 2
    assert status.resources.linux.memory_limit_in_bytes == 1 << 20
    assert status.stop_signal == cri.SIGQUIT
    assert dict(status.labels) == {"tier": "front"}
    # without a known image or sandbox: the configured image and the relative log path
    bare = to_cri.container_status(container(), None)
    assert bare.image.image == "busybox:1.36" and bare.log_path == "app/1.log"
    assert not bare.HasField("resources")
    listed = to_cri.cri_container(container())
    assert (listed.pod_sandbox_id, listed.image_ref, listed.state) == (
        "s" * 64,
        c.image_ref,
        cri.CONTAINER_CREATED,
    )


def test_image_round_trip() -> None:
    numeric = Image(
        id="sha256:" + "1" * 64,
        repo_tags=("docker.io/library/busybox:latest",),
        repo_digests=("docker.io/library/busybox@sha256:" + "2" * 64,),
        size=4096,
        config=ImageConfig(user="1000:1000"),
        pinned=True,
    )
    out = to_cri.cri_image(numeric)
    assert (out.id, out.size, out.pinned, out.spec.image) == (numeric.id, 4096, True, numeric.id)
    assert list(out.repo_tags) == list(numeric.repo_tags)
    assert list(out.repo_digests) == list(numeric.repo_digests)
    assert out.HasField("uid") and out.uid.value == 1000 and out.username == ""
    named = to_cri.cri_image(Image(id="sha256:" + "3" * 64, config=ImageConfig(user="nobody")))
    assert not named.HasField("uid") and named.username == "nobody"
    root = to_cri.cri_image(Image(id="sha256:" + "3" * 64, config=ImageConfig(user="0")))
    assert root.HasField("uid") and root.uid.value == 0
    info = json.loads(to_cri.image_info(numeric)["info"])
    assert info["imageSpec"]["config"]["user"] == "1000:1000"


def test_stats_and_usage() -> None:
    s1 = ContainerStats(
        container_id="c" * 64,
        timestamp=10,
        cpu_usage_core_ns=5,
        cpu_usage_nano_cores=4,
        memory_working_set_bytes=7,
        memory_usage_bytes=9,
        memory_limit_bytes=100,
        memory_rss_bytes=6,
        memory_page_faults=12,
        memory_major_page_faults=2,
        process_count=3,
        writable_layer_mountpoint="/snapshots",
        writable_layer_bytes=11,
        writable_layer_inodes=3,
    )
    out = to_cri.container_stats(container(), s1)
    assert out.attributes.id == "c" * 64 and out.attributes.metadata.name == "app"
    cpu = out.cpu
    assert (cpu.timestamp, cpu.usage_core_nano_seconds.value, cpu.usage_nano_cores.value) == (
        10,
        5,
        4,
    )
    m = out.memory
    assert (m.working_set_bytes.value, m.usage_bytes.value, m.rss_bytes.value) == (7, 9, 6)
    assert m.available_bytes.value == 100 - 7  # limit minus working set
    assert (m.page_faults.value, m.major_page_faults.value) == (12, 2)
    layer = out.writable_layer
    assert (layer.fs_id.mountpoint, layer.used_bytes.value, layer.inodes_used.value) == (
        "/snapshots",
        11,
        3,
    )
    unlimited = to_cri.container_stats(container(), s1.model_copy(update={"memory_limit_bytes": 0}))
    assert unlimited.memory.HasField("available_bytes")
    assert unlimited.memory.available_bytes.value == 0  # no limit: 0, as containerd

    usage = ContainerStats(container_id="s" * 64, timestamp=20, cpu_usage_core_ns=10)
    pod_stats = PodStats(
        sandbox_id="s" * 64,
        timestamp=20,
        usage=usage,
        interfaces=(
            InterfaceStats(name="eth0", rx_bytes=1, rx_errors=2, tx_bytes=3, tx_errors=4),
            InterfaceStats(name="net1", rx_bytes=5),
        ),
        process_count=6,
        containers=(s1, s1),
    )
    pod = to_cri.pod_sandbox_stats(sandbox(), pod_stats, [(container(), s1), (container(), s1)])
    assert pod.attributes.id == "s" * 64 and pod.attributes.metadata.uid == "u1"
    assert pod.linux.cpu.usage_core_nano_seconds.value == 10
    assert len(pod.linux.containers) == 2
    net = pod.linux.network
    default = net.default_interface
    assert (default.name, default.rx_bytes.value, default.rx_errors.value) == ("eth0", 1, 2)
    assert (default.tx_bytes.value, default.tx_errors.value) == (3, 4)
    assert [(i.name, i.rx_bytes.value) for i in net.interfaces] == [("net1", 5)]
    assert pod.linux.process.process_count.value == 6
    host = to_cri.pod_sandbox_stats(
        sandbox(), PodStats(sandbox_id="s" * 64, timestamp=1, usage=usage), []
    )
    assert not host.linux.HasField("network")  # no namespace of its own: no interfaces
    fs = to_cri.filesystem_usage(
        FilesystemUsage(mountpoint="/var/lib", timestamp=1, used_bytes=2, inodes_used=3)
    )
    assert (fs.fs_id.mountpoint, fs.used_bytes.value, fs.inodes_used.value) == ("/var/lib", 2, 3)


def test_container_event() -> None:
    event = ContainerEvent(
        container_id="c" * 64,
        sandbox_id="s" * 64,
        type=ContainerEventType.STOPPED,
        created_at=5,
    )
    out = to_cri.container_event(event, sandbox(), [(container(), None)])
    assert out.container_event_type == cri.CONTAINER_STOPPED_EVENT
    assert (out.container_id, out.created_at) == ("c" * 64, 5)
    assert out.pod_sandbox_status.id == "s" * 64
    assert [c.id for c in out.containers_statuses] == ["c" * 64]
    gone = to_cri.container_event(event, None, [])
    assert not gone.HasField("pod_sandbox_status")
