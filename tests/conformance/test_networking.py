"""cri-tools `pkg/validate/networking.go`: "Networking" / "runtime should support networking";
and `multi_container_linux.go`: "Multiple Containers [Conformance]" / "when running multiple
containers in a pod"."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cri_api.v1 import api_pb2 as cri

from tests.conformance import framework as fw
from tests.support.cni import free_port

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]

DEFAULT_DNS_SERVER = "10.10.10.10"
DEFAULT_DNS_SEARCH = "google.com"
DEFAULT_DNS_OPTION = "ndots:8"
WEB_SERVER_CONTAINER_PORT = 80
HTTPD_CONTAINER_PORT = 80


def check_main_page(c: fw.Endpoint, pod_id: str, host_port: int, container_port: int) -> None:
    """checkMainPage: GET / on 127.0.0.1:<host port>, or on <pod IP>:<container port>, until
    a request gets an answer (a minute, once a second; each request may take a minute); the
    answer is 200."""
    if host_port:
        url = f"http://127.0.0.1:{host_port}/"
    else:
        ip = fw.pod_sandbox_status(c, pod_id).network.ip
        assert ip, "the pod has an IP"
        url = f"http://{ip}:{container_port}/"

    def get() -> int:
        try:
            return httpx.get(url, timeout=fw.MINUTE).status_code
        except httpx.HTTPError:
            return 0

    code = fw.eventually(get, lambda code: code != 0, fw.MINUTE, fw.SECOND)
    assert code == 200, "The status code of response should be 200."


def create_web_server_container(
    c: fw.Endpoint, pod_id: str, pod: cri.PodSandboxConfig, prefix: str
) -> str:
    config = fw.container_config(
        prefix, image=fw.WEB_SERVER_IMAGE, command=[], linux=cri.LinuxContainerConfig()
    )
    return fw.create_container(c, config, pod_id, pod)


# --- runtime should support networking ---------------------------------------------------------


@fw.on_both()
def test_dns_config(c: fw.Endpoint) -> None:
    """runtime should support DNS config [Conformance]"""
    dns = cri.DNSConfig(
        servers=[DEFAULT_DNS_SERVER], searches=[DEFAULT_DNS_SEARCH], options=[DEFAULT_DNS_OPTION]
    )
    config = fw.pod_config(c, "create-PodSandbox-with-DNS-config", dns_config=dns)
    with fw.pod_sandbox(c, config) as (pod_id, pod):
        container_id = fw.create_default_container(c, pod_id, pod, "container-for-DNS-config-test-")
        fw.start_container(c, container_id)
        reply = fw.exec_sync(c, container_id, ["cat", "/etc/resolv.conf"])
        assert reply.exit_code == 0, reply
        for line in (
            f"nameserver {DEFAULT_DNS_SERVER}",
            f"search {DEFAULT_DNS_SEARCH}",
            f"options {DEFAULT_DNS_OPTION}",
        ):
            assert line in reply.stdout.decode(), reply.stdout
        assert reply.stderr == b""


@fw.on_both()
def test_set_hostname(c: fw.Endpoint) -> None:
    """runtime should support set hostname [Conformance]"""
    hostname = "test-hostname"
    config = fw.pod_config(c, "create-PodSandbox-with-hostname", hostname=hostname)
    with fw.pod_sandbox(c, config) as (pod_id, pod):
        container_id = fw.create_default_container(c, pod_id, pod, "container-for-hostname-test-")
        fw.start_container(c, container_id)
        reply = fw.exec_sync(c, container_id, ["hostname"])
        assert reply.exit_code == 0, reply
        assert reply.stdout.decode().strip().lower() == hostname
        assert reply.stderr == b""


def pod_with_port_mapping(c: fw.Endpoint, mappings: list[cri.PortMapping]) -> cri.PodSandboxConfig:
    return fw.pod_config(c, "create-PodSandbox-with-port-mapping", port_mappings=mappings)


@fw.on_both()
def test_port_mapping_container_port_only(c: fw.Endpoint) -> None:
    """runtime should support port mapping with only container port [Conformance]"""
    mappings = [cri.PortMapping(container_port=WEB_SERVER_CONTAINER_PORT)]
    with fw.pod_sandbox(c, pod_with_port_mapping(c, mappings)) as (pod_id, pod):
        container_id = create_web_server_container(c, pod_id, pod, "container-for-container-port")
        fw.start_container(c, container_id)
        check_main_page(c, pod_id, 0, WEB_SERVER_CONTAINER_PORT)


@fw.on_both()
def test_port_mapping_host_port(c: fw.Endpoint) -> None:
    """runtime should support port mapping with host port and container port [Conformance]"""
    # upstream's fixed host port 12000, which must be free: a free port here
    host_port = free_port()
    mappings = [cri.PortMapping(container_port=WEB_SERVER_CONTAINER_PORT, host_port=host_port)]
    with fw.pod_sandbox(c, pod_with_port_mapping(c, mappings)) as (pod_id, pod):
        container_id = create_web_server_container(c, pod_id, pod, "container-for-host-port")
        fw.start_container(c, container_id)
        check_main_page(c, "", host_port, 0)


# --- Multiple Containers: when running multiple containers in a pod ------------------------


@contextlib.contextmanager
def multiple_containers(c: fw.Endpoint, tmp: Path) -> Iterator[tuple[str, str, str]]:
    """The BeforeEach (and AfterEach): a pod with a log directory and container port 80,
    running an httpd container and a busybox container that logs `hello World`. Yields the
    pod ID and the two container IDs."""
    config = fw.pod_config(
        c,
        "PodSandbox-for-multi-container-test-",
        port_mappings=[cri.PortMapping(container_port=HTTPD_CONTAINER_PORT)],
    )
    config.log_directory = str(fw.log_directory(tmp, config.metadata.name))
    with fw.pod_sandbox(c, config) as (pod_id, pod):
        httpd = fw.container_config(
            "httpd", image=fw.HTTPD_IMAGE, command=[], linux=cri.LinuxContainerConfig()
        )
        busybox = fw.container_config(
            "busybox", command=["sh", "-c", f"echo {fw.DEFAULT_LOG}; sleep 1000"]
        )
        ids = []
        for container in (httpd, busybox):
            container.log_path = container.metadata.name + ".log"
            ids.append(fw.create_container(c, container, pod_id, pod))
            fw.start_container_running(c, ids[-1])
        yield pod_id, ids[0], ids[1]


@fw.on_both()
def test_multiple_containers_network(c: fw.Endpoint, tmp_path: Path) -> None:
    """should support network"""
    with multiple_containers(c, tmp_path) as (pod_id, _, _):
        check_main_page(c, pod_id, 0, HTTPD_CONTAINER_PORT)


def log_holds(log: Path, text: str) -> bool:
    """verifyContainerLog: the file holds `text` (a file that cannot be read is a miss)."""
    try:
        return text in log.read_text()
    except OSError:
        return False


@fw.on_both()
def test_multiple_containers_log(c: fw.Endpoint, tmp_path: Path) -> None:
    """should support container log"""
    with multiple_containers(c, tmp_path) as (_, httpd, busybox):
        for container_id, expected in ((httpd, "httpd"), (busybox, fw.DEFAULT_LOG)):
            log = Path(fw.container_status(c, container_id).log_path)
            # Eventually(…, time.Minute, 100*time.Millisecond); a read error is retried
            fw.eventually(lambda: log_holds(log, expected), bool, fw.MINUTE, 0.1)  # noqa: B023


@fw.on_both()
def test_multiple_containers_exec(c: fw.Endpoint, tmp_path: Path) -> None:
    """should support container exec"""
    with multiple_containers(c, tmp_path) as (_, httpd, busybox):
        assert fw.exec_sync_container(c, httpd, ["echo", "httpd"]) == "httpd\n"
        assert fw.exec_sync_container(c, busybox, ["echo", "busybox"]) == "busybox\n"
