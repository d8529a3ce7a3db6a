"""cri-tools `pkg/validate/security_context_linux.go`: "Security Context" — namespace options,
users and groups, read-only rootfs, privileges, capabilities, masked and read-only paths,
seccomp, no_new_privs, supplemental groups policy and user namespaces (AppArmor and SELinux
are in other files, not ported: the node has neither)."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri

from tests.conformance import framework as fw
from tests.conformance import images
from tests.conformance.conftest import Node

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]

NGINX_IMAGE = fw.WEB_SERVER_IMAGE  # nginxContainerImage; the stand-in serves with busybox httpd
PAUSE_CMD = fw.DEFAULT_PAUSE_COMMAND  # pauseCmd
NODE, POD, CONTAINER, TARGET = cri.NODE, cri.POD, cri.CONTAINER, cri.TARGET

# the seccomp profiles of the "SeccompProfilePath" context
BLOCK_HOSTNAME_PROFILE = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO"}],
}
BLOCK_CHMOD_PROFILE = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO"}],
}
SECCOMP_STATUS_CMD = ["grep", "Seccomp:", "/proc/self/status"]


@pytest.fixture(scope="module", autouse=True)
def security_images(node: Node) -> None:
    """The nonewprivs and predefined-group stand-ins, pushed under their upstream names."""
    images.push_security(node.stack.registry)


# --- helpers (the functions beside the specs) ---------------------------------------------------


def fails(c: fw.Endpoint, container_id: str, cmd: list[str]) -> cri.ExecSyncResponse:
    """ExecSync where the spec expects an error (a non-zero exit, as the Go client reports)."""
    reply = fw.exec_sync(c, container_id, cmd)
    assert reply.exit_code != 0, f"{cmd} should fail; stdout {reply.stdout!r}"
    return reply


def succeeds(c: fw.Endpoint, container_id: str, cmd: list[str]) -> cri.ExecSyncResponse:
    reply = fw.exec_sync(c, container_id, cmd)
    assert reply.exit_code == 0, f"{cmd} exited {reply.exit_code}: {reply.stderr!r}"
    return reply


def security_container(
    prefix: str,
    image: str = fw.DEFAULT_CONTAINER_IMAGE,
    command: list[str] | None = None,
    logged: bool = False,
    **security: object,
) -> cri.ContainerConfig:
    """A container whose Linux security context is `security`; `command=None` keeps the
    image's entrypoint; `logged` gives it the log path `<name>.log`."""
    config = fw.container_config(
        prefix,
        image=image,
        command=command or [],
        linux=cri.LinuxContainerConfig(
            security_context=cri.LinuxContainerSecurityContext(**security)  # type: ignore[arg-type]
        ),
    )
    if logged:
        config.log_path = config.metadata.name + ".log"
    return config


def run_container(
    c: fw.Endpoint, pod_id: str, pod: cri.PodSandboxConfig, config: cri.ContainerConfig
) -> str:
    """Create and start; the container is RUNNING."""
    container_id = fw.create_container(c, config, pod_id, pod)
    fw.start_container_running(c, container_id)
    return container_id


def run_to_exit(
    c: fw.Endpoint, pod_id: str, pod: cri.PodSandboxConfig, config: cri.ContainerConfig
) -> str:
    """Create and start; the container is EXITED."""
    container_id = fw.create_container(c, config, pod_id, pod)
    fw.start_container(c, container_id)
    fw.wait_container_state(c, container_id, cri.CONTAINER_EXITED)
    return container_id


def namespace_pod(
    c: fw.Endpoint, options: cri.NamespaceOption, tmp: Path | None = None
) -> cri.PodSandboxConfig:
    """createNamespacePodSandbox; with `tmp`, a log directory in it."""
    config = fw.pod_config(
        c,
        "NamespaceOption-PodSandbox-",
        dns_config=cri.DNSConfig(),
        linux=cri.LinuxPodSandboxConfig(
            security_context=cri.LinuxSandboxSecurityContext(namespace_options=options)
        ),
    )
    if tmp is not None:
        config.log_directory = str(fw.log_directory(tmp, config.metadata.name))
    return config


def log_pod(c: fw.Endpoint, tmp: Path) -> cri.PodSandboxConfig:
    """createPodSandboxWithLogDirectory."""
    config = fw.pod_config(c, "PodSandbox-with-log-directory-")
    config.log_directory = str(fw.log_directory(tmp, config.metadata.name))
    return config


def privileged_pod(c: fw.Endpoint, privileged: bool) -> cri.PodSandboxConfig:
    """createPrivilegedPodSandbox."""
    return fw.pod_config(
        c,
        "create-Privileged-PodSandbox-for-container-",
        linux=cri.LinuxPodSandboxConfig(
            security_context=cri.LinuxSandboxSecurityContext(privileged=privileged)
        ),
    )


def container_log(pod: cri.PodSandboxConfig, config: cri.ContainerConfig) -> Path:
    return Path(pod.log_directory) / config.log_path


def match_container_output(
    pod: cri.PodSandboxConfig, config: cri.ContainerConfig, out: str
) -> None:
    """matchContainerOutput: `out` is a stdout record of the container's log."""
    fw.verify_log_contents(container_log(pod, config), out, "stdout")


def check_network_management(c: fw.Endpoint, container_id: str, manageable: bool) -> None:
    """checkNetworkManagement: adding a bridge needs CAP_NET_ADMIN."""
    cmd = ["busybox", "brctl", "addbr", "foobar"]
    (succeeds if manageable else fails)(c, container_id, cmd)


# --- NamespaceOption ----------------------------------------------------------------------------

# the nginx stand-in's server, started by a shell that first writes its pid where nginx does
NGINX_WITH_PID_FILE = [
    "sh",
    "-c",
    "mkdir -p /var/run && echo $$ > /var/run/nginx.pid && exec httpd -f -p 80 -h /srv",
]
PID1_IS_HTTPD = "tr '\\0' ' ' < /proc/1/cmdline | grep -q '^httpd '"


@fw.on_both()
def test_host_pid(c: fw.Endpoint) -> None:
    """runtime should support HostPID"""
    options = cri.NamespaceOption(pid=NODE, ipc=POD, network=POD)
    with fw.pod_sandbox(c, namespace_pod(c, options)) as (pod_id, pod):
        nginx = security_container(
            "nginx-container-hostpid-", NGINX_IMAGE, NGINX_WITH_PID_FILE, namespace_options=options
        )
        nginx_id = run_container(c, pod_id, pod, nginx)
        wait_pid = "while [ ! -f /var/run/nginx.pid ]; do sleep 1; done && cat /var/run/nginx.pid"
        nginx_pid = fw.exec_sync_container(c, nginx_id, ["sh", "-c", wait_pid]).strip()
        assert nginx_pid.isdigit(), nginx_pid

        busybox = security_container(
            "container-with-HostPID-test-",
            command=["sh", "-c", "sleep 1000"],
            namespace_options=options,
        )
        busybox_id = run_container(c, pod_id, pod, busybox)
        pids = fw.exec_sync_container(c, busybox_id, ["pgrep", "httpd"]).split()
        assert nginx_pid in pids, "nginx's pid should be seen by hostpid containers"


@contextlib.contextmanager
def host_shm_segment() -> Iterator[str]:
    """`ipcmk -M 1048576` on the host: the segment's ID, removed afterwards."""
    out = subprocess.run(["ipcmk", "-M", "1048576"], check=True, capture_output=True, text=True)
    segment = out.stdout.strip().removeprefix("Shared memory id: ")
    try:
        yield segment
    finally:
        subprocess.run(["ipcrm", "-m", segment], capture_output=True)


def check_host_ipc(c: fw.Endpoint, mode: int) -> None:
    with host_shm_segment() as segment:
        options = cri.NamespaceOption(pid=POD, ipc=mode, network=POD)  # type: ignore[arg-type]
        with fw.pod_sandbox(c, namespace_pod(c, options)) as (pod_id, pod):
            config = security_container(
                "namespace-container-", command=PAUSE_CMD, namespace_options=options
            )
            container_id = run_container(c, pod_id, pod, config)
            table = fw.exec_sync_container(c, container_id, ["cat", "/proc/sysvipc/shm"])
            ids = {line.split()[1] for line in table.splitlines()[1:] if line.strip()}
            if mode == NODE:
                assert segment in ids, "the host's segment should be seen in the container"
            else:
                assert segment not in ids, "the host's segment should not be seen"


@fw.on_both()
def test_host_ipc_true(c: fw.Endpoint) -> None:
    """runtime should support HostIpc is true"""
    check_host_ipc(c, NODE)


@fw.on_both()
def test_host_ipc_false(c: fw.Endpoint) -> None:
    """runtime should support HostIpc is false"""
    check_host_ipc(c, POD)


@fw.on_both()
def test_pod_pid(c: fw.Endpoint) -> None:
    """runtime should support PodPID"""
    options = cri.NamespaceOption(pid=POD)
    with fw.pod_sandbox(c, namespace_pod(c, options)) as (pod_id, pod):
        config = security_container(
            "nginx-container-process-namespace-", NGINX_IMAGE, namespace_options=options
        )
        container_id = run_container(c, pod_id, pod, config)
        time.sleep(1)  # upstream: "waits for nginx to be up-and-running"
        cmdline = fw.exec_sync_container(c, container_id, ["cat", "/proc/1/cmdline"])
        # nginx's "master process" in upstream's image; our stand-in's server is httpd
        assert "httpd" not in cmdline, cmdline


@fw.on_both()
def test_container_pid(c: fw.Endpoint) -> None:
    """runtime should support ContainerPID"""
    options = cri.NamespaceOption(pid=CONTAINER)
    with fw.pod_sandbox(c, namespace_pod(c, options)) as (pod_id, pod):
        config = security_container("nginx-container-pid-", NGINX_IMAGE, namespace_options=options)
        container_id = run_container(c, pod_id, pod, config)
        wait = f"while ! {PID1_IS_HTTPD}; do sleep 1; done"
        fw.exec_sync_container(c, container_id, ["sh", "-c", wait])


def check_host_network(c: fw.Endpoint, tmp: Path, host_network: bool) -> None:
    """createAndCheckHostNetwork: a port the host listens on is (not) in the container's
    `netstat -ln`, read from its log from the moment StartContainer returns (a minute, once a
    second; the log file must be there at once)."""
    with socket.create_server(("", 0)) as server:
        port = str(server.getsockname()[1])
        options = cri.NamespaceOption(pid=POD, ipc=POD, network=NODE if host_network else POD)
        with fw.pod_sandbox(c, namespace_pod(c, options, tmp)) as (pod_id, pod):
            config = security_container(
                "container-with-HostNetwork-test-",
                command=["sh", "-c", "busybox netstat -ln"],
                namespace_options=options,
                logged=True,
            )
            container_id = fw.create_container(c, config, pod_id, pod)
            fw.start_container(c, container_id)
            log = container_log(pod, config)

            def port_error() -> str:
                """The Eventually'd function: "" when the check holds, else its error."""
                for message in fw.parse_log_lines(log):
                    if ":" + port in message.log:
                        return "" if host_network else f"host port {port} should not be listed"
                return f"host port {port} should be listed" if host_network else ""

            fw.eventually(port_error, lambda error: not error, fw.MINUTE, fw.SECOND)


@fw.on_both()
def test_host_network_true(c: fw.Endpoint, tmp_path: Path) -> None:
    """runtime should support HostNetwork is true"""
    check_host_network(c, tmp_path, True)


@fw.on_both()
def test_host_network_false(c: fw.Endpoint, tmp_path: Path) -> None:
    """runtime should support HostNetwork is false"""
    check_host_network(c, tmp_path, False)


# --- bucket -------------------------------------------------------------------------------------


@fw.on_both()
def test_supplemental_groups(c: fw.Endpoint) -> None:
    """runtime should support SupplementalGroups"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        config = security_container(
            "container-with-SupplementalGroups-test-",
            command=PAUSE_CMD,
            supplemental_groups=[1234, 5678],
        )
        container_id = run_container(c, pod_id, pod, config)
        groups = fw.exec_sync_container(c, container_id, ["id", "-G"]).split()
        assert "1234" in groups and "5678" in groups, groups


@fw.on_both()
def test_run_as_user(c: fw.Endpoint) -> None:
    """runtime should support RunAsUser"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        config = security_container(
            "container-with-RunAsUser-test-",
            command=PAUSE_CMD,
            run_as_user=cri.Int64Value(value=1001),
        )
        container_id = run_container(c, pod_id, pod, config)
        assert fw.exec_sync_container(c, container_id, ["id", "-u"]) == "1001\n"


@fw.on_both()
def test_run_as_user_name(c: fw.Endpoint) -> None:
    """runtime should support RunAsUserName"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        config = security_container(
            "container-with-RunAsUserName-test-", command=PAUSE_CMD, run_as_username="nobody"
        )
        container_id = run_container(c, pod_id, pod, config)
        assert fw.exec_sync_container(c, container_id, ["id", "-nu"]) == "nobody\n"


@fw.on_both()
def test_run_as_group(c: fw.Endpoint, tmp_path: Path) -> None:
    """runtime should support RunAsGroup"""
    with fw.pod_sandbox(c, log_pod(c, tmp_path)) as (pod_id, pod):
        config = security_container(
            "container-with-RunAsGroup-test-",
            command=["sh", "-c", "echo $(id -u):$(id -g)"],
            run_as_user=cri.Int64Value(value=1001),
            run_as_group=cri.Int64Value(value=1002),
            logged=True,
        )
        run_to_exit(c, pod_id, pod, config)
        match_container_output(pod, config, "1001:1002\n")


@fw.on_both()
def test_run_as_group_without_run_as_user(c: fw.Endpoint) -> None:
    """runtime should return error if RunAsGroup is set without RunAsUser"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        config = security_container(
            "container-with-RunAsGroup-without-RunAsUser-test-",
            command=["sh", "-c", "echo $(id -u):$(id -g)"],
            run_as_group=cri.Int64Value(value=1002),
        )
        with pytest.raises(grpc.RpcError):
            fw.create_container(c, config, pod_id, pod)


def check_readonly_rootfs(c: fw.Endpoint, tmp: Path, readonly: bool) -> None:
    """createReadOnlyRootfsContainer + checkRootfs."""
    with fw.pod_sandbox(c, log_pod(c, tmp)) as (pod_id, pod):
        config = security_container(
            f"container-with-ReadOnlyRootfs-{str(readonly).lower()}-test-",
            command=["sh", "-c", "touch test.go && [ -f test.go ] && echo 'Found'"],
            readonly_rootfs=readonly,
            logged=True,
        )
        run_to_exit(c, pod_id, pod, config)
        log = container_log(pod, config)
        if readonly:
            fw.verify_log_contents(log, "touch: test.go: Read-only file system\n", "stderr")
        else:
            fw.verify_log_contents(log, "Found\n", "stdout")


@fw.on_both()
def test_readonly_rootfs_false(c: fw.Endpoint, tmp_path: Path) -> None:
    """runtime should support that ReadOnlyRootfs is false"""
    check_readonly_rootfs(c, tmp_path, False)


@fw.on_both()
def test_readonly_rootfs_true(c: fw.Endpoint, tmp_path: Path) -> None:
    """runtime should support that ReadOnlyRootfs is true"""
    check_readonly_rootfs(c, tmp_path, True)


def check_privileged(c: fw.Endpoint, privileged: bool) -> None:
    with fw.pod_sandbox(c, privileged_pod(c, privileged)) as (pod_id, pod):
        prefix = (
            "container-with-isPrivileged-test-"
            if privileged
            else "container-with-notPrivileged-test-"
        )
        config = security_container(prefix, command=PAUSE_CMD, privileged=privileged)
        container_id = run_container(c, pod_id, pod, config)
        check_network_management(c, container_id, privileged)


@fw.on_both()
def test_privileged_true(c: fw.Endpoint) -> None:
    """runtime should support Privileged is true"""
    check_privileged(c, True)


@fw.on_both()
def test_privileged_false(c: fw.Endpoint) -> None:
    """runtime should support Privileged is false"""
    check_privileged(c, False)


def capability_container(prefix: str, add: list[str], drop: list[str]) -> cri.ContainerConfig:
    """createCapabilityContainer."""
    caps = cri.Capability(add_capabilities=add, drop_capabilities=drop)
    return security_container(prefix, command=PAUSE_CMD, capabilities=caps)


def bounding_set(c: fw.Endpoint, container_id: str) -> int:
    status = fw.exec_sync_container(c, container_id, ["cat", "/proc/self/status"])
    found = re.search(r"^CapBnd:\s+([0-9a-f]+)$", status, re.MULTILINE)
    assert found, status
    return int(found.group(1), 16)


@fw.on_both()
def test_adding_capability(c: fw.Endpoint) -> None:
    """runtime should support adding capability"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        config = capability_container("container-with-added-capability-test-", ["NET_ADMIN"], [])
        check_network_management(c, run_container(c, pod_id, pod, config), True)
        default_id = fw.create_default_container(
            c, pod_id, pod, "container-with-notCapability-test-"
        )
        fw.start_container_running(c, default_id)
        check_network_management(c, default_id, False)


@fw.on_both()
def test_dropping_capability(c: fw.Endpoint) -> None:
    """runtime should support dropping capability"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        config = capability_container("container-with-dropped-capability-test-", [], ["NET_RAW"])
        container_id = run_container(c, pod_id, pod, config)
        reply = fails(c, container_id, ["ping", "127.0.0.1"])
        assert reply.stdout, "ping starts"
        assert b"permission denied" in reply.stderr, reply.stderr


@fw.on_both()
def test_adding_all_capabilities(c: fw.Endpoint) -> None:
    """runtime should support adding ALL capabilities"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        config = capability_container("container-with-added-all-capability-test-", ["ALL"], [])
        assert bounding_set(c, run_container(c, pod_id, pod, config)) != 0


@fw.on_both()
def test_dropping_all_capabilities(c: fw.Endpoint) -> None:
    """runtime should support dropping ALL capabilities"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        config = capability_container("container-with-dropped-all-capability-test-", [], ["ALL"])
        assert bounding_set(c, run_container(c, pod_id, pod, config)) == 0


@fw.on_both()
def test_masked_paths(c: fw.Endpoint) -> None:
    """runtime should support MaskedPaths"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        # upstream masks /bin/ls; in the stand-in that is a symlink to busybox itself
        config = security_container(
            "container-with-maskedpaths", command=PAUSE_CMD, masked_paths=["/bin/pgrep"]
        )
        container_id = run_container(c, pod_id, pod, config)
        reply = fails(c, container_id, ["/bin/sh", "-c", "pgrep"])
        assert reply.stderr == b"/bin/sh: pgrep: Permission denied\n"


@fw.on_both()
def test_readonly_paths(c: fw.Endpoint) -> None:
    """runtime should support ReadonlyPaths"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        config = security_container(
            "container-with-readonlypaths", command=PAUSE_CMD, readonly_paths=["/tmp"]
        )
        container_id = run_container(c, pod_id, pod, config)
        reply = fails(c, container_id, ["touch", "/tmp/test"])
        assert reply.stderr == b"touch: /tmp/test: Read-only file system\n"


@fw.on_both()
def test_supplemental_groups_with_image_groups(c: fw.Endpoint, tmp_path: Path) -> None:
    """if the container's primary UID belongs to some groups in the image, runtime should add
    SupplementalGroups to them"""
    # cri-tools v1.26's spec of the "bucket" context (later moved under SupplementalGroupsPolicy
    # and gated on that feature, below): no policy, so it runs on every runtime
    uid, gid, supplemental = images.PREDEFINED_GROUP_UID, images.PREDEFINED_GROUP_GID, 1234
    with fw.pod_sandbox(c, log_pod(c, tmp_path)) as (pod_id, pod):
        config = security_container(
            "container-with-SupplementalGroups-and-predefined-group-image-test-",
            images.PREDEFINED_GROUP_IMAGE,
            ["sh", "-c", "id -G; sleep infinity"],
            run_as_user=cri.Int64Value(value=uid),
            supplemental_groups=[supplemental],
            logged=True,
        )
        container_id = fw.create_container(c, config, pod_id, pod)
        fw.start_container(c, container_id)
        log = container_log(pod, config)

        def started() -> bool:
            """RUNNING, then a line logged (a log file not there fails at once)."""
            if fw.container_status(c, container_id).state != cri.CONTAINER_RUNNING:
                return False
            return bool(fw.parse_log_lines(log))

        fw.eventually(started, bool, fw.MINUTE, fw.STATE_POLL)
        # uid 1000 (primary gid 1000), the supplemental group, the image's group 50000
        match_container_output(pod, config, f"{uid} {supplemental} {gid}\n")


# --- SupplementalGroupsPolicy (run only where the runtime announces it, as upstream) -------------


def check_supplemental_groups_policy(c: fw.Endpoint, tmp: Path, policy: int) -> None:
    status = c.runtime.Status(cri.StatusRequest(), timeout=fw.RPC_TIMEOUT)
    if not status.features.supplemental_groups_policy:
        pytest.skip("The runtime does not support SupplementalGroupsPolicy feature")
    uid, gid = images.PREDEFINED_GROUP_UID, images.PREDEFINED_GROUP_GID
    groups = [uid, 1234] if policy == cri.Strict else [uid, 1234, gid]
    with fw.pod_sandbox(c, log_pod(c, tmp)) as (pod_id, pod):
        config = security_container(
            "container-with-SupplementalGroupsPolicyMerge-",
            images.PREDEFINED_GROUP_IMAGE,
            ["sh", "-c", "id -G; sleep infinity"],
            run_as_user=cri.Int64Value(value=uid),
            supplemental_groups=[1234],
            supplemental_groups_policy=policy,
            logged=True,
        )
        container_id = fw.create_container(c, config, pod_id, pod)
        fw.start_container(c, container_id)
        log = container_log(pod, config)

        def started() -> bool:
            """The Eventually'd function: RUNNING, the user as expected, a line logged (the
            log file must be there: a missing one fails at once)."""
            status = fw.container_status(c, container_id)
            if status.state != cri.CONTAINER_RUNNING:
                return False
            user = status.user.linux
            if (user.uid, user.gid, sorted(user.supplemental_groups)) != (uid, uid, groups):
                return False
            return bool(fw.parse_log_lines(log))

        fw.eventually(started, bool, fw.MINUTE, fw.STATE_POLL)
        expected = " ".join(map(str, groups)) + "\n"
        match_container_output(pod, config, expected)
        assert fw.exec_sync_container(c, container_id, ["id", "-G"]) == expected


@fw.on_both()
def test_supplemental_groups_policy_merge(c: fw.Endpoint, tmp_path: Path) -> None:
    """if the container's primary UID belongs to some groups in the image, runtime should add
    SupplementalGroups to them"""
    check_supplemental_groups_policy(c, tmp_path, cri.Merge)


@fw.on_both()
def test_supplemental_groups_policy_strict(c: fw.Endpoint, tmp_path: Path) -> None:
    """even if the container's primary UID belongs to some groups in the image, runtime should
    not add SupplementalGroups to them"""
    check_supplemental_groups_policy(c, tmp_path, cri.Strict)


# --- SeccompProfilePath -------------------------------------------------------------------------


@pytest.fixture
def profiles(tmp_path: Path) -> dict[str, str]:
    """createSeccompProfileDir + createSeccompProfile: name → path of each profile file."""
    directory = tmp_path / "seccomp-tests"
    directory.mkdir()
    out = {}
    for name, profile in (
        ("block-host-name.json", BLOCK_HOSTNAME_PROFILE),
        ("block-chmod.json", BLOCK_CHMOD_PROFILE),
    ):
        (directory / name).write_text(json.dumps(profile))
        out[name] = str(directory / name)
    return out


def localhost(path: str) -> cri.SecurityProfile:
    return cri.SecurityProfile(profile_type=cri.SecurityProfile.Localhost, localhost_ref=path)


UNCONFINED = cri.SecurityProfile(profile_type=cri.SecurityProfile.Unconfined)
RUNTIME_DEFAULT = cri.SecurityProfile(profile_type=cri.SecurityProfile.RuntimeDefault)


@contextlib.contextmanager
def seccomp_test_container(c: fw.Endpoint, profile: cri.SecurityProfile | None) -> Iterator[str]:
    """seccompTestContainer: a pod and a running container, both with `profile`."""
    pod = fw.pod_config(c, "seccomp-sandbox-")
    pod.linux.security_context.SetInParent()  # upstream's, with a nil profile too
    container = security_container("seccomp-container-", command=PAUSE_CMD)
    if profile is not None:
        pod.linux.security_context.seccomp.CopyFrom(profile)
        container.linux.security_context.seccomp.CopyFrom(profile)
    with fw.pod_sandbox(c, pod) as (pod_id, pod):
        yield run_container(c, pod_id, pod, container)


def seccomp_mode(c: fw.Endpoint, container_id: str) -> str:
    """verifySeccomp of the `Seccomp:` field: 0 disabled, 2 filtered."""
    out = fw.exec_sync_container(c, container_id, SECCOMP_STATUS_CMD)
    found = re.fullmatch(r"Seccomp:\s+(\d)\n", out)
    assert found, out
    return found.group(1)


@fw.on_both()
def test_seccomp_unconfined(c: fw.Endpoint) -> None:
    """should support seccomp unconfined on the container"""
    with seccomp_test_container(c, UNCONFINED) as container_id:
        assert seccomp_mode(c, container_id) == "0"


@fw.on_both()
def test_seccomp_localhost(c: fw.Endpoint, profiles: dict[str, str]) -> None:
    """should support seccomp localhost profile on the container"""
    with seccomp_test_container(c, localhost(profiles["block-chmod.json"])) as container_id:
        reply = fails(c, container_id, ["chmod", "400", "/"])
        assert b"Operation not permitted" in reply.stderr, reply.stderr


@fw.on_both()
def test_seccomp_default(c: fw.Endpoint) -> None:
    """should support seccomp default on the container"""
    with seccomp_test_container(c, cri.SecurityProfile()) as container_id:
        assert seccomp_mode(c, container_id) == "2"


@fw.on_both()
def test_seccomp_nil(c: fw.Endpoint) -> None:
    """should support nil profile, which is unconfined"""
    with seccomp_test_container(c, None) as container_id:
        assert seccomp_mode(c, container_id) == "0"


def seccomp_container(
    prefix: str, profile: cri.SecurityProfile, caps: list[str], privileged: bool
) -> cri.ContainerConfig:
    """createSeccompContainer (its image spec names the user-specified image too)."""
    config = security_container(
        prefix,
        command=["sleep", "60"],
        privileged=privileged,
        capabilities=cri.Capability(add_capabilities=caps),
        seccomp=profile,
    )
    config.image.user_specified_image = config.image.image
    return config


def check_set_hostname(
    c: fw.Endpoint, profile: cri.SecurityProfile, caps: list[str], settable: bool
) -> None:
    """CreatePodSandboxForContainer, createSeccompContainer (started), checkSetHostname."""
    with fw.pod_sandbox(c) as (pod_id, pod):
        config = seccomp_container(
            "container-with-block-hostname-seccomp-profile-test-", profile, caps, False
        )
        container_id = run_container(c, pod_id, pod, config)
        (succeeds if settable else fails)(c, container_id, ["hostname", "ANewHostName"])


@fw.on_both()
def test_unconfined_sys_admin_sets_hostname(c: fw.Endpoint) -> None:
    """runtime should not block setting host name with unconfined seccomp and SYS_ADMIN"""
    check_set_hostname(c, UNCONFINED, ["SYS_ADMIN"], settable=True)


@fw.on_both()
def test_localhost_blocks_hostname_with_sys_admin(c: fw.Endpoint, profiles: dict[str, str]) -> None:
    """runtime should support an seccomp profile that blocks setting hostname with SYS_ADMIN"""
    check_set_hostname(c, localhost(profiles["block-host-name.json"]), ["SYS_ADMIN"], False)


@fw.on_both()
def test_privileged_ignores_seccomp_profile(c: fw.Endpoint, profiles: dict[str, str]) -> None:
    """runtime should ignore a seccomp profile that blocks setting hostname when privileged"""
    profile = localhost(profiles["block-host-name.json"])
    with fw.pod_sandbox(c, privileged_pod(c, True)) as (pod_id, pod):
        config = seccomp_container(
            "container-with-block-hostname-seccomp-profile-test-", profile, [], True
        )
        container_id = run_container(c, pod_id, pod, config)
        succeeds(c, container_id, ["hostname", "ANewHostName"])


# from an earlier revision of the file: its "docker/default" context (the profile RuntimeDefault
# is now), and a profile path given without `localhost/` in the deprecated string field


@fw.on_both()
def test_runtime_default_sys_admin_sets_hostname(c: fw.Endpoint) -> None:
    """runtime should support setting hostname with docker/default seccomp profile and
    SYS_ADMIN"""
    check_set_hostname(c, RUNTIME_DEFAULT, ["SYS_ADMIN"], settable=True)


@fw.on_both()
def test_runtime_default_blocks_hostname(c: fw.Endpoint) -> None:
    """runtime should block sethostname with docker/default seccomp profile and no extra caps"""
    check_set_hostname(c, RUNTIME_DEFAULT, [], settable=False)


@fw.on_both()
def test_profile_path_without_localhost_prefix(c: fw.Endpoint, profiles: dict[str, str]) -> None:
    """runtime should not support a custom seccomp profile without using localhost/ as a
    prefix"""
    with fw.pod_sandbox(c) as (pod_id, pod):
        config = security_container(
            "container-with-block-hostname-seccomp-profile-test-",
            command=["sleep", "60"],
            seccomp_profile_path=profiles["block-host-name.json"],
        )
        with pytest.raises(grpc.RpcError):
            fw.create_container(c, config, pod_id, pod)


# not upstream: what the runtime's own profile filters (a capability does not), and a Localhost
# profile the node does not have


@fw.on_both()
def test_runtime_default_blocks_unshare(c: fw.Endpoint) -> None:
    """(not upstream) RuntimeDefault blocks unshare without SYS_ADMIN; Unconfined does not"""
    # creating a user namespace needs no capability: only the seccomp profile can refuse it
    cmd = ["busybox", "unshare", "-U", "true"]
    with fw.pod_sandbox(c) as (pod_id, pod):
        confined = seccomp_container("unshare-runtime-default-", RUNTIME_DEFAULT, [], False)
        reply = fails(c, run_container(c, pod_id, pod, confined), cmd)
        assert b"Operation not permitted" in reply.stderr, reply.stderr
        unconfined = seccomp_container("unshare-unconfined-", UNCONFINED, [], False)
        succeeds(c, run_container(c, pod_id, pod, unconfined), cmd)


@fw.on_both()
def test_missing_localhost_profile(c: fw.Endpoint, tmp_path: Path) -> None:
    """(not upstream) a Localhost seccomp profile that is not on the node fails the create"""
    profile = localhost(str(tmp_path / "no-such-profile.json"))
    with fw.pod_sandbox(c) as (pod_id, pod):
        config = seccomp_container("missing-seccomp-profile-", profile, [], False)
        with pytest.raises(grpc.RpcError):
            fw.create_container(c, config, pod_id, pod)
        assert fw.list_containers(c) == []


# --- NoNewPrivs ---------------------------------------------------------------------------------


def check_no_new_privs(c: fw.Endpoint, tmp: Path, prefix: str, no_new_privs: bool) -> None:
    with fw.pod_sandbox(c, log_pod(c, tmp)) as (pod_id, pod):
        config = security_container(
            prefix,
            images.NO_NEW_PRIVS_IMAGE,
            no_new_privs=no_new_privs,
            run_as_user=cri.Int64Value(value=1000),
            logged=True,
        )
        run_to_exit(c, pod_id, pod, config)
        match_container_output(pod, config, f"Effective uid: {1000 if no_new_privs else 0}\n")


@fw.on_both()
def test_no_new_privs_true(c: fw.Endpoint, tmp_path: Path) -> None:
    """should not allow privilege escalation when true"""
    check_no_new_privs(c, tmp_path, "alpine-nnp-true-", True)


@fw.on_both()
def test_no_new_privs_false(c: fw.Endpoint, tmp_path: Path) -> None:
    """should allow privilege escalation when false"""
    check_no_new_privs(c, tmp_path, "alpine-nnp-false-", False)


# --- UserNamespaces (run only where the runtime handler announces them, as upstream) -------------


def require_user_namespaces(c: fw.Endpoint) -> None:
    status = c.runtime.Status(cri.StatusRequest(verbose=True), timeout=fw.RPC_TIMEOUT)
    if not any(h.name == "" and h.features.user_namespaces for h in status.runtime_handlers):
        pytest.skip("no runtime handler found which supports user namespaces")


@fw.on_both()
def test_userns_node(c: fw.Endpoint, tmp_path: Path) -> None:
    """runtime should support NamespaceMode_NODE"""
    require_user_namespaces(c)
    options = cri.NamespaceOption(userns_options=cri.UserNamespace(mode=NODE))
    with fw.pod_sandbox(c, namespace_pod(c, options, tmp_path)) as (pod_id, pod):
        config = security_container(
            "user-namespaces-container-",
            command=["cat", "/proc/self/uid_map"],
            namespace_options=options,
            logged=True,
        )
        run_to_exit(c, pod_id, pod, config)
        uid_map = "".join(m.log for m in fw.parse_log_lines(container_log(pod, config)))
        for line in Path("/proc/self/uid_map").read_text().splitlines():
            inside, outside, length = line.split()
            assert re.search(rf"\s+{inside}\s+{outside}\s+{length}", uid_map), uid_map


def check_userns_refused(c: fw.Endpoint, userns: cri.UserNamespace) -> None:
    """runUserNamespacePodWithError."""
    require_user_namespaces(c)
    config = fw.pod_config(
        c,
        "user-namespaces-pod-",
        linux=cri.LinuxPodSandboxConfig(
            security_context=cri.LinuxSandboxSecurityContext(
                namespace_options=cri.NamespaceOption(userns_options=userns)
            )
        ),
    )
    with pytest.raises(grpc.RpcError):
        fw.run_pod_sandbox(c, config)


def id_mapping(container_id: int, host_id: int) -> cri.IDMapping:
    return cri.IDMapping(container_id=container_id, host_id=host_id, length=100000)


@fw.on_both()
def test_userns_more_than_one_mapping(c: fw.Endpoint) -> None:
    """runtime should fail if more than one mapping provided"""
    mappings = [id_mapping(0, 1000), id_mapping(0, 2000)]
    check_userns_refused(c, cri.UserNamespace(mode=POD, uids=mappings, gids=mappings))


@fw.on_both()
def test_userns_container_id_0_unmapped(c: fw.Endpoint) -> None:
    """runtime should fail if container ID 0 is not mapped"""
    mappings = [id_mapping(1, 1000)]
    check_userns_refused(c, cri.UserNamespace(mode=POD, uids=mappings, gids=mappings))


@fw.on_both()
def test_userns_container_mode(c: fw.Endpoint) -> None:
    """runtime should fail with NamespaceMode_CONTAINER"""
    check_userns_refused(c, cri.UserNamespace(mode=CONTAINER))


@fw.on_both()
def test_userns_target_mode(c: fw.Endpoint) -> None:
    """runtime should fail with NamespaceMode_TARGET"""
    check_userns_refused(c, cri.UserNamespace(mode=TARGET))
