"""The pause container's full spec."""

from __future__ import annotations

import json

import pytest

from domain.errors import InvalidArgument
from domain.model import DNSConfig, Image, ImageConfig, NamespaceMode, SandboxSecurity
from domain.spec import NodeOptions, sandbox_spec
from tests.unit.spec.builders import (
    NODE,
    PAUSE,
    SANDBOX_ID,
    mount_at,
    mount_destinations,
    namespaces,
    pod_config,
    sandbox,
)

DIR = f"/run/hexcri/sandboxes/{SANDBOX_ID}"


def test_pod_sandbox_spec() -> None:
    pod = pod_config(
        hostname="web-0",
        cgroup_parent="/kubepods/besteffort/poduid-1",
        dns_config=DNSConfig(servers=("10.0.0.10",)),
        sysctls={"net.ipv4.ip_local_port_range": "1024 65000"},
        annotations={"team": "a"},
        log_directory="/var/log/pods/default_web_uid-1",
    )
    spec = sandbox_spec(sandbox(pod), PAUSE, NODE)
    json.dumps(spec)
    assert spec["process"]["args"] == ["/pause"]
    assert spec["root"] == {"path": "rootfs", "readonly": True}
    assert spec["hostname"] == "web-0"
    assert "rlimits" not in spec["process"] and spec["process"]["noNewPrivileges"] is True
    assert spec["linux"]["cgroupsPath"] == f"/kubepods/besteffort/poduid-1/{SANDBOX_ID}"
    assert namespaces(spec)["network"] == "/var/run/netns/cni-1"
    assert set(namespaces(spec)) == {"pid", "ipc", "uts", "mount", "network"}
    assert mount_at(spec, "/dev/shm") == {
        "destination": "/dev/shm",
        "type": "bind",
        "source": f"{DIR}/shm",
        "options": ["rbind", "ro"],
    }
    assert mount_at(spec, "/etc/resolv.conf")["source"] == f"{DIR}/resolv.conf"
    assert "/run" not in mount_destinations(spec)
    assert len(mount_destinations(spec)) == len(set(mount_destinations(spec)))
    assert spec["linux"]["sysctl"] == {"net.ipv4.ip_local_port_range": "1024 65000"}
    assert spec["linux"]["resources"]["cpu"] == {"shares": 2}
    assert spec["process"]["oomScoreAdj"] == -998
    ann = spec["annotations"]
    assert ann["team"] == "a"
    assert ann["io.kubernetes.cri.container-type"] == "sandbox"
    assert ann["io.kubernetes.cri.sandbox-id"] == SANDBOX_ID
    assert ann["io.kubernetes.cri.image-name"] == "registry.k8s.io/pause:3.9"
    assert ann["io.kubernetes.cri.sandbox-log-directory"] == "/var/log/pods/default_web_uid-1"


def test_oom_score_is_clamped_on_a_restricted_node() -> None:
    spec = sandbox_spec(sandbox(), PAUSE, NodeOptions(min_oom_score_adj=0))
    assert spec["process"]["oomScoreAdj"] == 0


def test_host_network_host_ipc_host_pid_sandbox() -> None:
    pod = pod_config(host_network=True, host_ipc=True, pid=NamespaceMode.NODE, hostname="x")
    spec = sandbox_spec(sandbox(pod), PAUSE, NODE)
    assert namespaces(spec) == {"mount": ""}
    assert "hostname" not in spec  # no UTS namespace of its own: runc refuses a hostname
    assert mount_at(spec, "/dev/shm")["source"] == "/dev/shm"
    assert mount_at(spec, "/etc/resolv.conf")["source"] == "/etc/resolv.conf"


def test_no_dns_config_keeps_the_image_resolv_conf() -> None:
    spec = sandbox_spec(sandbox(), PAUSE, NODE)
    assert "/etc/resolv.conf" not in mount_destinations(spec)


def test_sandbox_user_and_groups() -> None:
    pod = pod_config().model_copy(
        update={
            "security": SandboxSecurity(
                run_as_user=65535, run_as_group=65535, supplemental_groups=(1,)
            )
        }
    )
    spec = sandbox_spec(sandbox(pod), PAUSE, NODE)
    assert spec["process"]["user"] == {
        "uid": 65535, "gid": 65535, "additionalGids": [1], "username": "65535:65535"
    }  # fmt: skip


def test_sandbox_image_user_cwd_env() -> None:
    img = Image(
        id="p",
        config=ImageConfig(cmd=("/pause",), user="65535:65535", working_dir="/w", env=("A=1",)),
    )
    spec = sandbox_spec(sandbox(), img, NODE)
    assert spec["process"]["user"] == {"uid": 65535, "gid": 65535, "username": "65535:65535"}
    assert spec["process"]["cwd"] == "/w" and spec["process"]["env"] == ["A=1"]
    assert spec["annotations"]["io.kubernetes.cri.image-name"] == "p"


def test_pause_image_must_have_a_command() -> None:
    with pytest.raises(InvalidArgument):
        sandbox_spec(sandbox(), Image(id="p"), NODE)


def test_systemd_driver() -> None:
    pod = pod_config(cgroup_parent="/kubepods.slice/kubepods-besteffort.slice")
    spec = sandbox_spec(sandbox(pod), PAUSE, NodeOptions(cgroup_driver="systemd"))
    assert spec["linux"]["cgroupsPath"] == f"kubepods-besteffort.slice:cri-containerd:{SANDBOX_ID}"
