"""An application container's full spec."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidArgument
from domain.model import (
    Capabilities,
    ContainerSecurity,
    Device,
    KeyValue,
    LinuxResources,
    Mount,
    NamespaceMode,
    NamespaceOptions,
    Propagation,
)
from domain.spec import HostDevice, NodeOptions, container_spec
from tests.unit.spec.builders import (
    CONTAINER_ID,
    NODE,
    SANDBOX_ID,
    container,
    image,
    mount_at,
    mount_destinations,
    namespaces,
    pod_config,
    sandbox,
)

DIR = f"/run/hexcri/sandboxes/{SANDBOX_ID}"


def test_plain_container() -> None:
    pod = sandbox(
        pod_config(hostname="web-0", cgroup_parent="/kubepods/pod1", sysctls={"a.b": "1"})
    )
    c = container(
        args=("echo", "hi"),
        envs=(KeyValue(key="X", value="1"),),
        annotations={"note": "n"},
        labels={"l": "v"},
    )
    spec = container_spec(c, pod, image(), NODE)
    json.dumps(spec)
    proc = spec["process"]
    assert proc["args"] == ["echo", "hi"]
    assert proc["env"] == ["PATH=/usr/bin:/bin", "HOSTNAME=web-0", "X=1"]
    assert proc["cwd"] == "/" and proc["terminal"] is False
    assert proc["noNewPrivileges"] is False and "rlimits" not in proc
    assert proc["user"] == {"uid": 0, "gid": 0, "username": "0"}  # resolved by the runtime
    assert "oomScoreAdj" not in proc  # no resources: inherit
    assert "hostname" not in spec  # the UTS namespace is the sandbox's
    assert spec["root"] == {"path": "rootfs", "readonly": False}
    assert mount_at(spec, "/etc/hostname")["source"] == f"{DIR}/hostname"
    assert mount_at(spec, "/etc/hosts")["source"] == f"{DIR}/hosts"
    assert mount_at(spec, "/dev/shm") == {
        "destination": "/dev/shm",
        "type": "bind",
        "source": f"{DIR}/shm",
        "options": ["rbind", "rprivate", "rw"],
    }
    assert "/etc/resolv.conf" not in mount_destinations(spec)  # no DNS config
    assert "/run" not in mount_destinations(spec)
    lx = spec["linux"]
    assert lx["cgroupsPath"] == f"/kubepods/pod1/{CONTAINER_ID}"
    assert "sysctl" not in lx  # sandbox sysctls apply to the sandbox only (containerd)
    assert namespaces(spec) == {
        "pid": "",
        "network": "/proc/4242/ns/net",
        "uts": "/proc/4242/ns/uts",
        "ipc": "/proc/4242/ns/ipc",
        "mount": "",
    }
    ann = spec["annotations"]
    assert ann["note"] == "n" and "l" not in ann
    assert ann["io.kubernetes.cri.container-type"] == "container"
    assert ann["io.kubernetes.cri.sandbox-id"] == SANDBOX_ID
    assert ann["io.kubernetes.cri.container-name"] == "app"
    assert ann["io.kubernetes.cri.image-name"] == "docker.io/library/busybox:latest"


def test_cri_annotations_cannot_be_overridden() -> None:
    c = container(annotations={"io.kubernetes.cri.sandbox-id": "forged"})
    spec = container_spec(c, sandbox(), image(), NODE)
    assert spec["annotations"]["io.kubernetes.cri.sandbox-id"] == SANDBOX_ID


def test_kubelet_hosts_and_resolv_win() -> None:
    from domain.model import DNSConfig

    pod = sandbox(pod_config(dns_config=DNSConfig(servers=("1.1.1.1",))))
    c = container(
        mounts=(Mount(container_path="/etc/hosts", host_path="/var/lib/kubelet/pods/x/etc-hosts"),)
    )
    spec = container_spec(c, pod, image(), NODE)
    assert mount_at(spec, "/etc/hosts")["source"] == "/var/lib/kubelet/pods/x/etc-hosts"
    assert mount_at(spec, "/etc/resolv.conf")["source"] == f"{DIR}/resolv.conf"


def test_readonly_rootfs_makes_pod_files_readonly() -> None:
    c = container(ContainerSecurity(readonly_rootfs=True))
    spec = container_spec(c, sandbox(), image(), NODE)
    assert spec["root"]["readonly"] is True
    assert "ro" in mount_at(spec, "/etc/hosts")["options"]
    assert "rw" in mount_at(spec, "/dev/shm")["options"]


def test_host_network_and_ipc() -> None:
    pod = sandbox(pod_config(host_network=True, host_ipc=True))
    host_ns = NamespaceOptions(network=NamespaceMode.NODE, ipc=NamespaceMode.NODE)
    c = container(ContainerSecurity(namespace_options=host_ns))
    spec = container_spec(c, pod, image(), NODE)
    assert namespaces(spec) == {"pid": "", "mount": ""}
    assert mount_at(spec, "/dev/shm")["source"] == "/dev/shm"
    assert mount_at(spec, "/etc/resolv.conf")["source"] == "/etc/resolv.conf"
    assert "HOSTNAME=node1" in spec["process"]["env"]


def test_shared_and_target_pid() -> None:
    pod_pid = ContainerSecurity(namespace_options=NamespaceOptions(pid=NamespaceMode.POD))
    spec = container_spec(container(pod_pid), sandbox(), image(), NODE)
    assert namespaces(spec)["pid"] == "/proc/4242/ns/pid"
    target = ContainerSecurity(
        namespace_options=NamespaceOptions(pid=NamespaceMode.TARGET, target_id="x")
    )
    spec = container_spec(container(target), sandbox(), image(), NODE, target_pid=99)
    assert namespaces(spec)["pid"] == "/proc/99/ns/pid"


def test_user_from_cri_and_image() -> None:
    spec = container_spec(container(), sandbox(), image(user="1000:1000"), NODE)
    assert spec["process"]["user"] == {"uid": 1000, "gid": 1000, "username": "1000:1000"}
    sec = ContainerSecurity(run_as_user=7, run_as_group=8, supplemental_groups=(9,))
    spec = container_spec(container(sec), sandbox(), image(user="nginx"), NODE)
    assert spec["process"]["user"] == {
        "uid": 7, "gid": 8, "additionalGids": [9], "username": "7:8"
    }  # fmt: skip
    spec = container_spec(container(), sandbox(), image(user="nginx"), NODE)
    assert spec["process"]["user"]["username"] == "nginx"


def test_resources_and_oom() -> None:
    res = LinuxResources(cpu_shares=256, memory_limit_in_bytes=1 << 20, oom_score_adj=-999)
    spec = container_spec(
        container(resources=res), sandbox(), image(), NodeOptions(min_oom_score_adj=0)
    )
    assert spec["process"]["oomScoreAdj"] == 0
    assert spec["linux"]["resources"]["cpu"] == {"shares": 256}
    assert spec["linux"]["resources"]["memory"]["limit"] == 1 << 20


def test_capabilities_no_new_privs_tty_workdir() -> None:
    sec = ContainerSecurity(
        capabilities=Capabilities(add=("NET_ADMIN",), drop=("ALL",)), no_new_privs=True
    )
    spec = container_spec(container(sec, tty=True, working_dir="/srv"), sandbox(), image(), NODE)
    proc = spec["process"]
    assert proc["capabilities"] == {
        k: ["CAP_NET_ADMIN"] for k in ("bounding", "effective", "permitted")
    }
    assert proc["noNewPrivileges"] is True and proc["terminal"] is True and proc["cwd"] == "/srv"


def test_masked_paths_from_kubelet() -> None:
    sec = ContainerSecurity(masked_paths=("/proc/kcore",), readonly_paths=("/proc/sys",))
    spec = container_spec(container(sec), sandbox(), image(), NODE)
    assert spec["linux"]["maskedPaths"] == ["/proc/kcore"]
    assert spec["linux"]["readonlyPaths"] == ["/proc/sys"]


def test_devices() -> None:
    dev = Device(container_path="/dev/fuse", host_path="/dev/fuse", permissions="rwm")
    fuse = HostDevice(path="/dev/fuse", major=10, minor=229)
    spec = container_spec(
        container(devices=(dev,)), sandbox(), image(), NODE, devices={"/dev/fuse": [fuse]}
    )
    assert spec["linux"]["devices"][0]["path"] == "/dev/fuse"
    with pytest.raises(InvalidArgument):
        container_spec(container(devices=(dev,)), sandbox(), image(), NODE)


def test_privileged() -> None:
    sec = ContainerSecurity(privileged=True, masked_paths=("/proc/kcore",))
    with pytest.raises(InvalidArgument):
        container_spec(container(sec), sandbox(), image(), NODE)
    pod = sandbox(pod_config(privileged=True))
    node = NodeOptions(capabilities=("CAP_CHOWN", "CAP_SYS_ADMIN"), cgroup_v2=True)
    spec = container_spec(container(sec), pod, image(), node)
    assert spec["process"]["capabilities"]["bounding"] == ["CAP_CHOWN", "CAP_SYS_ADMIN"]
    assert spec["linux"]["maskedPaths"] == [] and spec["linux"]["readonlyPaths"] == []
    assert spec["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert "ro" not in mount_at(spec, "/sys")["options"]
    assert "cgroup" not in namespaces(spec)


def test_cgroup_namespace_on_cgroup_v2() -> None:
    spec = container_spec(container(), sandbox(), image(), NodeOptions(cgroup_v2=True))
    assert namespaces(spec)["cgroup"] == ""


def test_no_command_is_invalid() -> None:
    with pytest.raises(InvalidArgument):
        container_spec(container(), sandbox(), image(cmd=()), NODE)


def test_inputs_are_not_changed_and_specs_are_independent() -> None:
    c, s, i = container(), sandbox(), image()
    one = container_spec(c, s, i, NODE)
    one["mounts"].clear()
    assert container_spec(c, s, i, NODE)["mounts"]


# --- properties over whole configs -----------------------------------------------------------

segment = st.sampled_from(["etc", "dev", "shm", "data", "hosts", "run", "var", "x"])
dest = st.lists(segment, min_size=1, max_size=3).map(lambda p: "/" + "/".join(p))
mounts = st.lists(
    st.builds(
        Mount,
        container_path=dest,
        host_path=dest,
        readonly=st.booleans(),
        propagation=st.sampled_from(list(Propagation)),
    ),
    max_size=6,
    unique_by=lambda m: m.container_path,
)
mode = st.sampled_from([NamespaceMode.POD, NamespaceMode.CONTAINER, NamespaceMode.NODE])
security = st.builds(
    ContainerSecurity,
    capabilities=st.builds(
        Capabilities,
        add=st.lists(st.sampled_from(["ALL", "NET_ADMIN", "CAP_SYS_TIME"]), max_size=2).map(tuple),
        drop=st.lists(st.sampled_from(["ALL", "KILL", "chown"]), max_size=2).map(tuple),
    ),
    namespace_options=st.builds(NamespaceOptions, pid=mode),
    run_as_user=st.none() | st.integers(0, 70000),
    readonly_rootfs=st.booleans(),
    no_new_privs=st.booleans(),
    supplemental_groups=st.lists(st.integers(0, 100), max_size=3).map(tuple),
)
resources = st.none() | st.builds(
    LinuxResources,
    cpu_shares=st.integers(0, 1024),
    memory_limit_in_bytes=st.integers(0, 1 << 30),
    oom_score_adj=st.integers(-1000, 1000),
)


@settings(max_examples=150)
@given(
    cri_mounts=mounts,
    sec=security,
    res=resources,
    host_network=st.booleans(),
    min_oom=st.none() | st.integers(-1000, 1000),
    args=st.lists(st.text("ab", min_size=1, max_size=3), max_size=2).map(tuple),
)
def test_container_spec_properties(
    cri_mounts: list[Mount],
    sec: ContainerSecurity,
    res: LinuxResources | None,
    host_network: bool,
    min_oom: int | None,
    args: tuple[str, ...],
) -> None:
    pod = sandbox(pod_config(host_network=host_network))
    c = container(sec, mounts=tuple(cri_mounts), resources=res, args=args)
    spec = container_spec(c, pod, image(), NodeOptions(min_oom_score_adj=min_oom))
    assert json.loads(json.dumps(spec)) == spec
    dests = mount_destinations(spec)
    assert len(dests) == len(set(dests))
    for m in cri_mounts:
        (found,) = [x for x in spec["mounts"] if x["destination"] == m.container_path]
        assert found["source"] == m.host_path
        assert ("ro" if m.readonly else "rw") in found["options"]
    if res is not None and min_oom is not None:
        assert spec["process"]["oomScoreAdj"] >= min_oom
    kinds = [n["type"] for n in spec["linux"]["namespaces"]]
    assert len(kinds) == len(set(kinds)) and "mount" in kinds
    assert ("network" in kinds) != host_network
    caps = spec["process"]["capabilities"]
    assert caps["bounding"] == caps["effective"] == caps["permitted"]
    assert "ambient" not in caps and "inheritable" not in caps
